package main

import (
	"bytes"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWatchLabelOnScrape: --label reaches every series a scrape serves,
// and a bad label is refused before anything starts.
func TestWatchLabelOnScrape(t *testing.T) {
	var stderr bytes.Buffer
	if code := runWatch([]string{"--label", "__name__=x"}, nil, io.Discard, &stderr); code != exitUsage {
		t.Errorf("--label __name__=x: exit %d, want %d", code, exitUsage)
	}
	if !strings.Contains(stderr.String(), "reserved") {
		t.Errorf("--label __name__=x: %s", stderr.String())
	}

	bin := buildGpuwatch(t)
	addr := freeAddr(t)
	trace := filepath.Join("..", "..", "testdata", "traces", "sim-strict-2vf-6ms-4.16.report")
	cmd := exec.Command(bin, "watch", "--replay", trace, "--speed", "0.01", "--json", "--listen", addr,
		"--label", "guest=vm 1", "--label", `host=h"1`)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var body string
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if body = string(b); strings.Contains(body, "gpuwatch_jobs_total") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no jobs in the scrape after 15 s:\n%s", body)
		}
	}
	for _, line := range strings.Split(body, "\n") {
		if line != "" && line[0] != '#' && !strings.Contains(line, `guest="vm 1",host="h\"1"} `) {
			t.Errorf("series without the labels: %s", line)
		}
	}
}
