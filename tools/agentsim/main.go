// Command agentsim simulates many goc v1 agents for the serve benchmark
// (scripts/bench-serve.sh), and downloads their profiles as the plain baseline.
//
//	agentsim serve -server URL -names N -agents K -profile FILE -commit HEX -urls FILE
//	agentsim download -urls FILE -parallel P [-repeat R]
//
// serve listens on N*K ports of 127.0.0.1, each answering /v1/cover/profile like a goc agent
// (file order shuffled on every request, counts varied per agent), registers every address with
// the goc server under names <prefix><i>_<branch>_<commit>, writes the profile URLs to -urls,
// prints "ready" and serves until killed; SIGUSR1 simulates traffic (every agent's counts grow).
// download fetches every URL once with P at a time, discarding the bodies, and prints the time.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serveMain(os.Args[2:])
	case "download":
		err = downloadMain(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "agentsim:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: agentsim serve|download [flags] (-h for flags)")
	os.Exit(2)
}
