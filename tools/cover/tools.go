//go:build tools

// Package tools pins the reference tools the golden tests and benchmarks compare against.
package tools

import (
	_ "github.com/boumenot/gocover-cobertura"
	_ "github.com/wadey/gocovmerge"
)
