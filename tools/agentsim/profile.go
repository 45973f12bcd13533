package main

import (
	"bufio"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"strings"
)

// block is one profile line without its count: "file:l0.c0,l1.c1 stmts " and the base count.
type block struct {
	prefix []byte
	count  uint64
}

// profile is a real coverage profile with every block once, grouped by file (an agent lists
// each file once and every block of it).
type profile struct {
	mode  string
	files [][]block
}

// loadProfile reads a `go test -coverprofile` file; blocks listed more than once (one per test
// binary with -coverpkg) are summed, as a merge would.
func loadProfile(path string) (*profile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	p := &profile{}
	fileIndex := map[string]int{}
	blockIndex := map[string][2]int{}
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		if line == 1 {
			mode, ok := strings.CutPrefix(text, "mode: ")
			if !ok {
				return nil, fmt.Errorf("%s:1: want a `mode: ` line, got %q", path, text)
			}
			p.mode = mode
			continue
		}
		// file:l0.c0,l1.c1 stmts count
		sp2 := strings.LastIndexByte(text, ' ')
		sp1 := strings.LastIndexByte(text[:max(sp2, 0)], ' ')
		colon := strings.LastIndexByte(text[:max(sp1, 0)], ':')
		if sp2 < 0 || sp1 < 0 || colon < 0 {
			return nil, fmt.Errorf("%s:%d: not a profile line: %q", path, line, text)
		}
		count, err := strconv.ParseUint(text[sp2+1:], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: bad count in %q", path, line, text)
		}
		key := text[:sp2]
		if at, ok := blockIndex[key]; ok {
			p.files[at[0]][at[1]].count += count
			continue
		}
		file := text[:colon]
		fi, ok := fileIndex[file]
		if !ok {
			fi = len(p.files)
			fileIndex[file] = fi
			p.files = append(p.files, nil)
		}
		blockIndex[key] = [2]int{fi, len(p.files[fi])}
		p.files[fi] = append(p.files[fi], block{prefix: []byte(key + " "), count: count})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if p.mode == "" || len(p.files) == 0 {
		return nil, fmt.Errorf("%s: empty profile", path)
	}
	return p, nil
}

func (p *profile) blocks() int {
	n := 0
	for _, f := range p.files {
		n += len(f)
	}
	return n
}

// mix is splitmix64: a cheap, well-spread hash of the agent and block numbers.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// countFor varies a base count per agent: each agent scales the counts by its own factor and
// also hits a few blocks the tests never reached. Generation 0 is the agent's first state; each
// later generation (more traffic) adds hits to the blocks it runs, so counts only grow, as in a
// live process.
func countFor(agent uint64, fileNo, blockNo int, base, generation uint64) uint64 {
	h := mix(agent<<32 ^ uint64(fileNo)<<16 ^ uint64(blockNo))
	if base == 0 {
		if h%23 == 0 {
			return 1 + h>>60 + generation
		}
		return 0
	}
	factor := 1 + mix(agent)%8
	return base*factor/4 + h%3 + generation*(1+h%4)
}

// render appends the agent's profile to buf, files in a random order like a goc agent.
func (p *profile) render(buf []byte, agent, generation uint64, rng *rand.Rand) []byte {
	buf = append(buf, "mode: "...)
	buf = append(buf, p.mode...)
	buf = append(buf, '\n')
	for _, fi := range rng.Perm(len(p.files)) {
		for bi, b := range p.files[fi] {
			buf = append(buf, b.prefix...)
			buf = strconv.AppendUint(buf, countFor(agent, fi, bi, b.count, generation), 10)
			buf = append(buf, '\n')
		}
	}
	return buf
}
