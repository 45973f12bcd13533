package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func serveMain(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	server := fs.String("server", "", "goc server URL, e.g. http://127.0.0.1:7777")
	names := fs.Int("names", 1000, "registered names")
	agents := fs.Int("agents", 3, "agents per name")
	profilePath := fs.String("profile", "", "a real coverage profile (go test -coverprofile)")
	prefix := fs.String("prefix", "bench_th_app_svc", "name prefix; the name index follows it")
	branch := fs.String("branch", "master", "branch part of the names")
	commit := fs.String("commit", "", "commit part of the names (hex, e.g. 10 digits)")
	ip := fs.String("ip", "127.0.0.1", "address to listen on")
	urls := fs.String("urls", "", "file to write the agents' profile URLs to, one a line")
	_ = fs.Parse(args)
	if *server == "" || *profilePath == "" || *urls == "" {
		return errors.New("serve: -server, -profile and -urls are required")
	}
	if !regexp.MustCompile(`^[0-9a-f]{7,40}$`).MatchString(*commit) {
		return fmt.Errorf("serve: -commit %q: want 7 to 40 lowercase hex digits", *commit)
	}
	if *names < 1 || *agents < 1 {
		return errors.New("serve: -names and -agents must be at least 1")
	}
	p, err := loadProfile(*profilePath)
	if err != nil {
		return err
	}

	// SIGUSR1 = a burst of traffic on every agent: all counts move to the next generation.
	var generation atomic.Uint64
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		for range usr1 {
			fmt.Printf("traffic: generation %d\n", generation.Add(1))
		}
	}()

	total := *names * *agents
	addrs := make([]string, total)
	bufs := sync.Pool{New: func() any { b := make([]byte, 0, 1<<16); return &b }}
	for i := 0; i < total; i++ {
		ln, err := net.Listen("tcp", net.JoinHostPort(*ip, "0"))
		if err != nil {
			return fmt.Errorf("listening for agent %d: %w", i, err)
		}
		addrs[i] = "http://" + ln.Addr().String()
		agent := uint64(i)
		mux := http.NewServeMux()
		// Like a goc agent: any method, and a fresh file order on every call.
		mux.HandleFunc("/v1/cover/profile", func(w http.ResponseWriter, _ *http.Request) {
			bp := bufs.Get().(*[]byte)
			rng := rand.New(rand.NewSource(time.Now().UnixNano() ^ int64(agent)))
			*bp = p.render((*bp)[:0], agent, generation.Load(), rng)
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write(*bp)
			bufs.Put(bp)
		})
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
	}

	if err := register(*server, *prefix, *branch, *commit, *names, *agents, addrs); err != nil {
		return err
	}
	if err := writeURLs(*urls, addrs); err != nil {
		return err
	}
	fmt.Printf("ready: %d names x %d agents registered with %s (%d blocks in %d files per profile)\n",
		*names, *agents, *server, p.blocks(), len(p.files))
	select {}
}

// register posts every address to the goc server, 8 at a time, as the agent's own address
// (ip_revise=false: every agent here is on loopback anyway).
func register(server, prefix, branch, commit string, names, agents int, addrs []string) error {
	client := &http.Client{Timeout: 30 * time.Second}
	jobs := make(chan int)
	errs := make(chan error, len(addrs))
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				name := fmt.Sprintf("%s%04d_%s_%s", prefix, i/agents, branch, commit)
				body, _ := json.Marshal(map[string]string{
					"name": name, "address": addrs[i], "ip_revise": "false",
				})
				resp, err := client.Post(server+"/v1/cover/register", "application/json", bytes.NewReader(body))
				if err != nil {
					errs <- fmt.Errorf("registering %s as %s: %w", addrs[i], name, err)
					continue
				}
				msg, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("registering %s as %s: %s: %s", addrs[i], name, resp.Status, msg)
				}
			}
		}()
	}
	for i := range addrs {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	return <-errs // nil when the channel is empty
}

func writeURLs(path string, addrs []string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, a := range addrs {
		fmt.Fprintf(w, "%s/v1/cover/profile\n", a)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
