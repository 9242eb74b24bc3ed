// gozargah.io/v1alpha1: the one source of the resource types, CRDs and validation.
export * from './common.ts';
export * from './serviceprovider.ts';
export * from './inquiryroute.ts';
export * from './clientbinding.ts';
export * from './kinds.ts';
export * from './pathtemplate.ts';
export * from './reasons.ts';
export { validateObject, type SchemaError } from './validate.ts';
export { generateCRDs, toStructural } from './crd.ts';
export { normalizeSubject, parseSubject, subjectOf, subjectProblem, type SubjectAttribute } from './subject.ts';
