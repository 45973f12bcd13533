// Command echoserver is a small HTTP service used by the goc-adapter demo and end-to-end tests.
// It is built with `goc build`, so every handler's branches show up in the coverage reports.
package main

import (
	"flag"
	"log"
	"net/http"
	"os"
)

func main() {
	addr := flag.String("addr", defaultAddr(), "listen address (default from env PORT, else :8000)")
	flag.Parse()

	mux := http.NewServeMux()
	mux.HandleFunc("/echo", handleEcho)
	mux.HandleFunc("/health", handleHealth)
	mux.HandleFunc("/slow", handleSlow)
	mux.HandleFunc("/calc", handleCalc)

	log.Printf("echoserver listening on %s", *addr)
	if err := http.ListenAndServe(*addr, mux); err != nil {
		log.Fatal(err)
	}
}

// defaultAddr reads PORT from the environment, so the service can run under process managers.
func defaultAddr() string {
	if port := os.Getenv("PORT"); port != "" {
		return ":" + port
	}
	return ":8000"
}
