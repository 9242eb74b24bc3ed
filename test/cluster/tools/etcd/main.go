// Command etcd is the etcd server, built by test/cluster/build.sh from go.etcd.io/etcd/server/v3 at the
// version pinned in test/cluster/versions.env. Same body as etcd's own server/main.go.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
