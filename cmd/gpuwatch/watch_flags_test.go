package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// TestWatchFlagErrors: out-of-range flags are refused before anything is
// opened, with one line naming the flag.
func TestWatchFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--interval", "1ns"}, "--interval 1ns: must be at least 10ms"},
		{[]string{"--buffer-kb", "-1"}, "--buffer-kb -1: must be between 0"},
		{[]string{"--buffer-kb", "99999999"}, "--buffer-kb 99999999: must be between 0"},
		{[]string{"--speed", "1e-300"}, "--speed 1e-300: must be 0 (as fast as possible) or between"},
		{[]string{"--speed", "NaN"}, "--speed NaN"},
		{[]string{"--speed", "+Inf"}, "--speed +Inf"},
		{[]string{"--duration", "-1s"}, "--duration -1s: must not be negative"},
		{[]string{"--horizon", "0s"}, "--horizon 0s: must be positive"},
		{[]string{"--push-method", "DELETE"}, `--push-method "DELETE": expected POST, PUT or GET`},
		{[]string{"--source", "magic"}, `--source "magic": expected ebpf, tracefs or auto`},
		{[]string{"--expect", "half"}, `--expect: invalid share "half": want a fraction`},
	} {
		var out, errb bytes.Buffer
		code := run(append([]string{"watch", "--replay", recordSeed}, tc.args...), &out, &errb)
		if code != exitUsage || !strings.HasPrefix(errb.String(), "gpuwatch watch: "+tc.want) || strings.Count(errb.String(), "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tc.args, code, errb.String(), tc.want)
		}
	}
}

// TestWatchListenAddress: a port 0 prints the address bound; an address
// other hosts reach is warned about; loopback is not.
func TestWatchListenAddress(t *testing.T) {
	for _, tc := range []struct {
		listen string
		warn   bool
	}{{"127.0.0.1:0", false}, {"0.0.0.0:0", true}, {":0", true}, {"localhost:0", false}} {
		var out, errb bytes.Buffer
		if code := run([]string{"watch", "--replay", recordSeed, "--speed", "0", "--json", "--listen", tc.listen}, &out, &errb); code != exitOK {
			t.Fatalf("--listen %s: exit %d: %s", tc.listen, code, errb.String())
		}
		if !regexp.MustCompile(`(?m)^gpuwatch watch: metrics on http://[^ ]+:[1-9][0-9]*/metrics$`).MatchString(errb.String()) {
			t.Errorf("--listen %s: no bound address in %q", tc.listen, errb.String())
		}
		if got := strings.Contains(errb.String(), "reachable from other hosts"); got != tc.warn {
			t.Errorf("--listen %s: warning %v, want %v: %q", tc.listen, got, tc.warn, errb.String())
		}
	}
}

// TestWatchPushErrors: a push target that fails is reported on stderr a
// bounded number of times (not once per interval), in the JSON objects'
// warnings, and requests are POSTs.
func TestWatchPushErrors(t *testing.T) {
	var mu sync.Mutex
	var methods []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		methods = append(methods, r.Method)
		mu.Unlock()
		http.Error(w, "refused", http.StatusForbidden)
	}))
	defer srv.Close()
	var out, errb bytes.Buffer
	code := run([]string{"watch", "--replay", recordSeed, "--speed", "0.02", "--duration", "1s", "--interval", "20ms", "--json", "--listen", "", "--push", srv.URL + "/api/v1/import/prometheus"}, &out, &errb)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	mu.Lock()
	n := len(methods)
	for _, m := range methods {
		if m != "POST" {
			t.Errorf("push method %s, want POST", m)
			break
		}
	}
	mu.Unlock()
	lines := strings.Count(errb.String(), "pushing metrics to")
	t.Logf("%d pushes, %d lines on stderr: %q", n, lines, errb.String())
	if n < 5 {
		t.Fatalf("%d pushes in 1 s at 20 ms", n)
	}
	if lines < 1 || lines > 2 {
		t.Errorf("%d push error lines on stderr for %d failed pushes, want 1 (and the one at exit)", lines, n)
	}
	var warned bool
	for _, ln := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var o struct {
			Warnings []string `json:"warnings"`
		}
		json.Unmarshal([]byte(ln), &o)
		for _, w := range o.Warnings {
			warned = warned || strings.Contains(w, "403")
		}
	}
	if !warned {
		t.Errorf("no JSON object carries the push failure")
	}
}

// TestListenWarning: only addresses other hosts can reach are warned
// about; loopback (by address or as localhost) and addresses that do not
// parse are not.
func TestListenWarning(t *testing.T) {
	for _, tc := range []struct {
		addr string
		warn bool
	}{
		{"127.0.0.1:9464", false},
		{"127.1.2.3:9464", false},
		{"[::1]:9464", false},
		{"localhost:9464", false},
		{"no-port", false},
		{"0.0.0.0:9464", true},
		{":9464", true},
		{"[::]:9464", true},
		{"192.0.2.7:9464", true},
		{"metrics.example:9464", true},
	} {
		got := listenWarning(tc.addr)
		if (got != "") != tc.warn {
			t.Errorf("listenWarning(%q) = %q, want a warning: %v", tc.addr, got, tc.warn)
		}
		if tc.warn && !strings.HasPrefix(got, "metrics on "+tc.addr+" are reachable from other hosts") {
			t.Errorf("listenWarning(%q) = %q: want it to name the address", tc.addr, got)
		}
	}
}
