// ajv-formats is CommonJS; under Node's ESM its plugin is the default export's `default`.
import formats from 'ajv-formats';

export const addFormats = formats.default;
