// Command normprofile prints coverage profiles back the way golang.org/x/tools/cover.ParseProfiles
// reads them: the mode line, then each file's blocks in the parser's order, with the parser's own
// merge of duplicate blocks applied. The golden merge tests compare goc-adapter's merge with it.
//
// Usage: normprofile PROFILE
package main

import (
	"bufio"
	"fmt"
	"os"

	"golang.org/x/tools/cover"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: normprofile PROFILE")
		os.Exit(2)
	}
	profiles, err := cover.ParseProfiles(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "normprofile: %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	if len(profiles) > 0 {
		fmt.Fprintf(w, "mode: %s\n", profiles[0].Mode)
	}
	for _, p := range profiles {
		for _, b := range p.Blocks {
			fmt.Fprintf(w, "%s:%d.%d,%d.%d %d %d\n",
				p.FileName, b.StartLine, b.StartCol, b.EndLine, b.EndCol, b.NumStmt, b.Count)
		}
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "normprofile:", err)
		os.Exit(1)
	}
}
