module goc-adapter/tools/cover

go 1.25.0

require (
	github.com/boumenot/gocover-cobertura v1.5.0
	github.com/wadey/gocovmerge v0.0.0-20160331181800-b5bfa59ec0ad
	golang.org/x/tools v0.44.0
)

require (
	golang.org/x/mod v0.35.0 // indirect
	golang.org/x/sync v0.20.0 // indirect
)
