package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/tracefs/livetest"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestWatchPushesToVictoriaMetrics is the fleet story end to end: a real
// single-node VictoriaMetrics on loopback, `gpuwatch watch` replaying a
// trace and pushing to it, the series read back through its query API and
// compared with what `gpuwatch analyze` says about the same trace.
func TestWatchPushesToVictoriaMetrics(t *testing.T) {
	vmBin, err := exec.LookPath("victoria-metrics")
	if err != nil {
		livetest.Skip(t, "victoria-metrics not installed (apt-get install victoria-metrics)")
	}
	addr := freeAddr(t)
	vm := exec.Command(vmBin, "-storageDataPath="+t.TempDir(), "-httpListenAddr="+addr, "-search.latencyOffset=0s", "-retentionPeriod=100y")
	var logs bytes.Buffer
	vm.Stdout, vm.Stderr = &logs, &logs
	if err := vm.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vm.Process.Kill(); vm.Wait() })
	base := "http://" + addr
	for i := 0; ; i++ {
		if resp, err := http.Get(base + "/health"); err == nil {
			resp.Body.Close()
			break
		}
		if i > 100 {
			t.Fatalf("victoria-metrics did not start:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	bin := buildGpuwatch(t)
	trace := filepath.Join("..", "..", "testdata", "traces", "sim-strict-2vf-6ms-4.16.report")
	out, err := exec.Command(bin, "watch", "--replay", trace, "--speed", "0", "--json", "--listen", "",
		"--push", base+"/api/v1/import/prometheus").CombinedOutput()
	if err != nil {
		t.Fatalf("gpuwatch watch: %v\n%s", err, out)
	}
	var ana struct{ Share struct{ Ratio float64 } }
	aout, err := exec.Command(bin, "analyze", "--json", trace).Output()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(aout, &ana); err != nil {
		t.Fatal(err)
	}
	query := func(q string) (float64, bool) {
		http.Get(base + "/internal/force_flush")
		resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return 0, false
		}
		defer resp.Body.Close()
		var r struct {
			Data struct{ Result []struct{ Value [2]any } }
		}
		if json.NewDecoder(resp.Body).Decode(&r) != nil || len(r.Data.Result) == 0 {
			return 0, false
		}
		var v float64
		fmt.Sscan(fmt.Sprint(r.Data.Result[0].Value[1]), &v)
		return v, true
	}
	var share float64
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		v, ok := query("gpuwatch_share_ratio")
		if ok {
			share = v
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gpuwatch_share_ratio never reached VictoriaMetrics; watch said:\n%s", out)
		}
	}
	if d := share - ana.Share.Ratio; d > 1e-6 || d < -1e-6 {
		t.Errorf("VictoriaMetrics has share %v, analyze says %v", share, ana.Share.Ratio)
	}
	if v, ok := query(`sum(gpuwatch_jobs_total)`); !ok || v < 100 {
		t.Errorf("gpuwatch_jobs_total = %v (%v)", v, ok)
	}
}

// TestWatchScrapePassesPromtool scrapes a running `gpuwatch watch` and runs
// `promtool check metrics` on what it served.
func TestWatchScrapePassesPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		livetest.Skip(t, "promtool not installed (apt-get install prometheus)")
	}
	bin := buildGpuwatch(t)
	addr := freeAddr(t)
	trace := filepath.Join("..", "..", "testdata", "traces", "sim-strict-2vf-6ms-4.16.report")
	cmd := exec.Command(bin, "watch", "--replay", trace, "--speed", "0.03", "--json", "--duration", "20s", "--listen", addr)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var body []byte
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), "gpuwatch_share_ratio") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no share in the scrape after 15 s:\n%s", body)
		}
	}
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = bytes.NewReader(body)
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s\n%s", err, out, body)
	}
}
