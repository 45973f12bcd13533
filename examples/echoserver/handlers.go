package main

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// handleEcho writes back the request body, or the `msg` query parameter.
func handleEcho(w http.ResponseWriter, r *http.Request) {
	msg := r.URL.Query().Get("msg")
	if r.Method == http.MethodPost {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		msg = string(body)
	}
	if msg == "" {
		http.Error(w, "nothing to echo", http.StatusBadRequest)
		return
	}
	if r.URL.Query().Get("upper") == "1" {
		msg = strings.ToUpper(msg)
	}
	fmt.Fprintln(w, msg)
}

// handleHealth reports liveness.
func handleHealth(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintln(w, "ok")
}

// handleSlow sleeps for `ms` milliseconds (capped), to exercise slow requests.
func handleSlow(w http.ResponseWriter, r *http.Request) {
	ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
	if err != nil || ms < 0 {
		ms = 10
	}
	if ms > 2000 {
		ms = 2000
	}
	time.Sleep(time.Duration(ms) * time.Millisecond)
	fmt.Fprintf(w, "slept %dms\n", ms)
}

// handleCalc applies `op` to the integers `a` and `b`.
func handleCalc(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	a, errA := strconv.Atoi(q.Get("a"))
	b, errB := strconv.Atoi(q.Get("b"))
	if errA != nil || errB != nil {
		http.Error(w, "a and b must be integers", http.StatusBadRequest)
		return
	}
	var result int
	switch q.Get("op") {
	case "add":
		result = a + b
	case "sub":
		result = a - b
	case "mul":
		result = a * b
	case "div":
		if b == 0 {
			http.Error(w, "division by zero", http.StatusBadRequest)
			return
		}
		result = a / b
	default:
		http.Error(w, "unknown op", http.StatusBadRequest)
		return
	}
	fmt.Fprintln(w, result)
}
