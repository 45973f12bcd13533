package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// downloadMain is the baseline: every URL fetched once, P at a time, bodies discarded.
func downloadMain(args []string) error {
	fs := flag.NewFlagSet("download", flag.ExitOnError)
	urlsPath := fs.String("urls", "", "file of URLs, one a line")
	parallel := fs.Int("parallel", 24, "requests at once")
	repeat := fs.Int("repeat", 3, "rounds; the median is reported")
	_ = fs.Parse(args)
	if *urlsPath == "" || *parallel < 1 || *repeat < 1 {
		return errors.New("download: -urls is required; -parallel and -repeat must be at least 1")
	}
	urls, err := readLines(*urlsPath)
	if err != nil {
		return err
	}
	var times []float64
	var bytes int64
	for r := 0; r < *repeat; r++ {
		// A fresh transport per round: no connection reuse across rounds (nor within one, since
		// every agent is its own host:port), as for a collector's sync round.
		client := &http.Client{
			Timeout:   30 * time.Second,
			Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 1},
		}
		start := time.Now()
		n, err := fetchAll(client, urls, *parallel)
		if err != nil {
			return err
		}
		times = append(times, time.Since(start).Seconds())
		bytes = n
		client.CloseIdleConnections()
	}
	sorted := append([]float64(nil), times...)
	sort.Float64s(sorted)
	fmt.Printf("urls=%d parallel=%d bytes=%d median_seconds=%.3f rounds=%v\n",
		len(urls), *parallel, bytes, sorted[len(sorted)/2], times)
	return nil
}

func fetchAll(client *http.Client, urls []string, parallel int) (int64, error) {
	var total atomic.Int64
	var firstErr error
	var mu sync.Mutex
	jobs := make(chan string)
	var wg sync.WaitGroup
	for w := 0; w < parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range jobs {
				n, err := fetch(client, u)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
				total.Add(n)
			}
		}()
	}
	for _, u := range urls {
		jobs <- u
	}
	close(jobs)
	wg.Wait()
	return total.Load(), firstErr
}

func fetch(client *http.Client, url string) (int64, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return n, err
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no URLs", path)
	}
	return out, nil
}
