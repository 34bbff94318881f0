module github.com/concourse-ci-machine/concourse-ci-machine

go 1.26.8

require github.com/looplab/fsm v1.0.3
