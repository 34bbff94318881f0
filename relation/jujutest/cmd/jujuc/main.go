// Command jujuc is jujutest's hook tool client: linked (or copied) under a
// tool's name, it answers that tool from the model running the hook.
package main

import (
	"os"

	"github.com/concourse-ci-machine/concourse-ci-machine/relation/jujutest/jujuc"
)

func main() {
	os.Exit(jujuc.Main(os.Args, os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}
