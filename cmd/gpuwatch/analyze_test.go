package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/reporttext"
	"github.com/gpuwatch/gpuwatch/internal/tracedat"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

// runCLI runs gpuwatch in-process with stdin, in the current directory.
func runCLI(t *testing.T, stdin []byte, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runWith(args, bytes.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func readSeed(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(seedTraceFile)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gz(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// corrupt replaces the 1-based lines of b.
func corrupt(b []byte, repl map[int]string) []byte {
	lines := strings.SplitAfter(string(b), "\n")
	for n, s := range repl {
		lines[n-1] = s + "\n"
	}
	return []byte(strings.Join(lines, ""))
}

// passthroughReport is a 4.16–6.16 report of a guest that owns its GPU:
// two gfx jobs in flight for 60 ms, completions every 0.25–0.4 ms, never a
// stop.
func passthroughReport(t *testing.T) []byte {
	var buf bytes.Buffer
	w := reporttext.NewWriter(&buf, reporttext.WriterOptions{Gen: tracepoint.GenDRM, CPUs: 2})
	const t0 = 5000_000_000_000 // 5000 s
	fence := func(k int) uint64 { return 0xffff9a3c41e2b000 + uint64(k%32)*0x100 }
	job := func(tm int64, kind event.Kind, k int) event.Event {
		ev := event.Event{Time: tm, CPU: 1, PID: 4242, Comm: "vkcube", Kind: kind, Ring: "gfx", Job: event.JobKey{Fence: fence(k)},
			ID: uint64(k + 1), Entity: 0xffff9a3c40a8e000, JobCount: 0, HWJobCount: 2}
		switch kind {
		case event.KindQueue:
			ev.Name = "gpu_scheduler:drm_sched_job"
		case event.KindRun:
			ev.Name = "gpu_scheduler:drm_run_job"
		case event.KindDone:
			ev.Name, ev.CPU, ev.PID, ev.Comm, ev.Ring, ev.ID, ev.Entity = "gpu_scheduler:drm_sched_process_job", 0, 0, "<idle>", "", 0, 0
		}
		return ev
	}
	write := func(ev event.Event) {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	write(job(t0, event.KindQueue, 0))
	write(job(t0+5000, event.KindRun, 0))
	write(job(t0+20000, event.KindQueue, 1))
	write(job(t0+25000, event.KindRun, 1))
	tm := int64(t0)
	for k := 0; tm < t0+60_000_000; k++ {
		tm += 250_000 + int64(k*37%150)*1000
		write(job(tm, event.KindDone, k))
		write(job(tm+15000, event.KindQueue, k+2))
		write(job(tm+21000, event.KindRun, k+2))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestAnalyzeGolden runs analyze on each case and compares exit status,
// stdout and stderr with testdata/analyze_NAME.txtar (-update rewrites them).
func TestAnalyzeGolden(t *testing.T) {
	seed := readSeed(t)
	const seedName = "seed-s7150-half.report"
	truncated := seed[:len(seed)-40] // the last line cut short, no newline
	gzSeed := gz(t, seed)
	garbage := map[int]string{}
	for n := 40; n < 40+25; n++ {
		garbage[n] = fmt.Sprintf("garbage line %d", n)
	}
	noisy := corrupt(seed, garbage)
	cases := []struct {
		name  string
		args  []string
		files map[string][]byte
		stdin []byte
	}{
		{name: "seed_text", args: []string{"analyze", seedName}},
		{name: "seed_json", args: []string{"analyze", "--json", seedName}},
		{name: "expect_half_pass", args: []string{"analyze", "--expect", "1/2", seedName}},
		{name: "expect_90_fail", args: []string{"analyze", "--expect", "0.9", seedName}},
		{name: "expect_json_fail", args: []string{"analyze", seedName, "--json", "--expect=90%"}},
		{name: "gzip", args: []string{"analyze", "seed.report.gz"}, files: map[string][]byte{"seed.report.gz": gz(t, seed)}},
		{name: "stdin", args: []string{"analyze", "-"}, stdin: seed},
		{name: "stdin_gzip_json", args: []string{"analyze", "--json", "-"}, stdin: gz(t, seed)},
		{name: "not_a_report", args: []string{"analyze", "trace.txt"}, files: map[string][]byte{
			"trace.txt": []byte("# my notes\nThe GPU was slow today.\nglmark2 score: 1234\n")}},
		{name: "empty", args: []string{"analyze", "empty.report"}, files: map[string][]byte{"empty.report": nil}},
		{name: "malformed_lines", args: []string{"analyze", "bad.report"}, files: map[string][]byte{
			"bad.report": corrupt(seed, map[int]string{
				6:  "          <idle>-0     [000]  1437.797950: amd_sched_process_job: fence=0xffff8802f5a1c000 signal",
				30: "this line is garbage",
				31: "         glmark2-2211  [002]  1437.80xyz: amd_sched_job: ???",
			})}},
		{name: "many_warnings", args: []string{"analyze", "--json", "noisy.report"}, files: map[string][]byte{"noisy.report": noisy}},
		{name: "truncated_last_line", args: []string{"analyze", "cut.report"}, files: map[string][]byte{"cut.report": truncated}},
		{name: "gzip_truncated", args: []string{"analyze", "cut.report.gz"}, files: map[string][]byte{"cut.report.gz": gzSeed[:len(gzSeed)/2]}},
		{name: "binary_garbage", args: []string{"analyze", "core"}, files: map[string][]byte{"core": bytes.Repeat([]byte{0x7f, 'E', 'L', 'F', 0, 1, 2, 0xff}, 512)}},
		{name: "lost_events", args: []string{"analyze", "lost.report"}, files: map[string][]byte{
			"lost.report": corrupt(seed, map[int]string{150: "CPU:0 [LOST 37 EVENTS]"})}},
		{name: "flags_after_file", args: []string{"analyze", seedName, "--expect", "50%"}},
		{name: "help", args: []string{"analyze", "-h"}},
		{name: "passthrough_expect", args: []string{"analyze", "--expect", "1/2", "pt.report"}, files: map[string][]byte{"pt.report": passthroughReport(t)}},
		{name: "header_only_expect", args: []string{"analyze", "--expect", "1/2", "hdr.report"}, files: map[string][]byte{"hdr.report": []byte("version = 6\nCPU 0 is empty\ncpus=1\n")}},
		{name: "trace_dat_gzip_stdin", args: []string{"analyze", "-"}, stdin: gz(t, append([]byte(tracedat.Magic), "\x006\x00\x00\x00\x00\x00\x10\x00\x00"...))},
		{name: "directory", args: []string{"analyze", "."}},
		{name: "missing_file", args: []string{"analyze", "nope.report"}},
		{name: "no_file", args: []string{"analyze"}},
		{name: "two_files", args: []string{"analyze", "a", "b"}},
		{name: "bad_expect", args: []string{"analyze", "--expect", "half", seedName}},
		{name: "trace_dat", args: []string{"analyze", "trace.dat"}, files: map[string][]byte{
			"trace.dat": append([]byte(tracedat.Magic), "\x006\x00\x00\x00\x00\x00\x10\x00\x00"...)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string][]byte{seedName: seed}
			for k, v := range c.files {
				files[k] = v
			}
			for name, b := range files {
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			t.Chdir(dir)
			code, stdout, stderr := runCLI(t, c.stdin, c.args...)
			if strings.Contains(stderr, "panic") || strings.Contains(stdout, "panic") {
				t.Fatalf("panic:\n%s", stderr)
			}
			got := &txtar.Archive{
				Comment: []byte("gpuwatch " + strings.Join(c.args, " ") + "\n"),
				Files: []txtar.File{
					{Name: "exit", Data: []byte(strconv.Itoa(code) + "\n")},
					{Name: "stdout", Data: []byte(stdout)},
					{Name: "stderr", Data: []byte(stderr)},
				},
			}
			golden := filepath.Join(testdataDir(t), "analyze_"+c.name+".txtar")
			if *update {
				if err := os.WriteFile(golden, txtar.Format(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := txtar.ParseFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run AnalyzeGolden -update)", err)
			}
			for i, f := range got.Files {
				if i >= len(want.Files) || want.Files[i].Name != f.Name {
					t.Fatalf("%s: malformed golden (want sections exit, stdout, stderr)", golden)
				}
				if w := string(want.Files[i].Data); w != string(f.Data) {
					t.Errorf("%s differs from %s\n--- got ---\n%s\n--- want ---\n%s", f.Name, golden, f.Data, w)
				}
			}
		})
	}
}

// testdataDir is cmd/gpuwatch/testdata, absolute (tests chdir).
var testdataAbs string

func testdataDir(t *testing.T) string {
	if testdataAbs == "" {
		t.Fatal("testdata directory unknown")
	}
	return testdataAbs
}

func init() {
	wd, err := os.Getwd()
	if err == nil {
		testdataAbs = filepath.Join(wd, "testdata")
		seedTraceFile, _ = filepath.Abs(seedTraceFile)
	}
}

// TestSeedAcceptance is the seed article's acceptance test: the trace built to the
// seed article's table gives exactly its four switched-out windows, a
// slice near 6 ms and a share near 1/2.
func TestSeedAcceptance(t *testing.T) {
	t.Chdir(t.TempDir())
	code, stdout, stderr := runCLI(t, nil, "analyze", "--json", seedTraceFile)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc struct {
		Timeslice struct {
			Detected     bool
			SliceSeconds float64 `json:"slice_seconds"`
			Share        float64
			VFs          int
			Mode         string
		}
		Windows []struct {
			Start float64 `json:"start_seconds"`
			End   float64 `json:"end_seconds"`
			Kind  string
		}
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	var out [][2]int64
	for _, w := range doc.Windows {
		if w.Kind == "switched_out" {
			out = append(out, [2]int64{int64(math.Round(w.Start * 1e6)), int64(math.Round(w.End * 1e6))})
		}
	}
	if len(out) != len(seedWindowsUS) {
		t.Fatalf("%d switched-out windows %v, want the seed's %d", len(out), out, len(seedWindowsUS))
	}
	for i := range out {
		if out[i] != seedWindowsUS[i] {
			t.Errorf("window %d: %d → %d µs, want %d → %d", i, out[i][0], out[i][1], seedWindowsUS[i][0], seedWindowsUS[i][1])
		}
	}
	ts := doc.Timeslice
	if !ts.Detected {
		t.Fatalf("schedule not detected")
	}
	if ts.SliceSeconds < 5.5e-3 || ts.SliceSeconds > 6.7e-3 {
		t.Errorf("slice %.6f s, want near 6 ms", ts.SliceSeconds)
	}
	if math.Abs(ts.Share-0.5) > 0.05 {
		t.Errorf("share %.4f, want near 1/2", ts.Share)
	}
	if ts.VFs != 2 || ts.Mode != "fixed" {
		t.Errorf("vfs %d mode %s, want 2 fixed", ts.VFs, ts.Mode)
	}
}

// TestAnalyzeJSONShape checks the keys and types of
// gpuwatch.analysis/v1, and their types.
func TestAnalyzeJSONShape(t *testing.T) {
	t.Chdir(t.TempDir())
	strict := filepath.Join(filepath.Dir(seedTraceFile), "sim-strict-2vf-6ms-4.16.report")
	code, stdout, stderr := runCLI(t, nil, "analyze", "--json", "--expect", "0.4", strict)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["schema"] != "gpuwatch.analysis/v1" {
		t.Errorf("schema = %v", doc["schema"])
	}
	num := func(m map[string]any, keys ...string) {
		t.Helper()
		for _, k := range keys {
			if _, ok := m[k].(float64); !ok {
				t.Errorf("key %q: %v (%T), want a number", k, m[k], m[k])
			}
		}
	}
	obj := func(v any, what string) map[string]any {
		t.Helper()
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: %T, want an object", what, v)
		}
		return m
	}
	num(obj(doc["input"], "input"), "events", "lost_events", "unknown_lines", "malformed_lines")
	num(obj(doc["span"], "span"), "start_seconds", "end_seconds", "duration_seconds")
	rings, _ := doc["rings"].([]any)
	if len(rings) == 0 {
		t.Fatalf("rings: %v", doc["rings"])
	}
	for _, r := range rings {
		rm := obj(r, "ring")
		if _, ok := rm["name"].(string); !ok {
			t.Errorf("ring name %v", rm["name"])
		}
		num(rm, "jobs", "busy_seconds", "stalled_seconds", "in_flight", "latency_p50_seconds", "latency_p99_seconds")
	}
	ts := obj(doc["timeslice"], "timeslice")
	if ts["detected"] != true {
		t.Errorf("timeslice.detected = %v", ts["detected"])
	}
	num(ts, "slice_seconds", "period_seconds", "share", "vfs", "confidence", "slice_err_seconds", "period_err_seconds", "share_err", "switch_cost_seconds",
		"schedule_share", "schedule_share_err")
	sh := obj(doc["share"], "share")
	num(sh, "ratio", "err", "busy_seconds", "unserved_seconds", "windows")
	if sh["resolved"] != true {
		t.Errorf("share %v", sh)
	}
	if m, _ := ts["mode"].(string); m != "fixed" && m != "variable" && m != "none" {
		t.Errorf("timeslice.mode = %v", ts["mode"])
	}
	ws, _ := doc["windows"].([]any)
	if len(ws) == 0 {
		t.Fatalf("windows: %v", doc["windows"])
	}
	for _, w := range ws {
		wm := obj(w, "window")
		num(wm, "start_seconds", "end_seconds", "duration_seconds", "in_flight")
		if k := wm["kind"]; k != "switched_out" && k != "guest_idle" && k != "stall" {
			t.Errorf("window kind %v", k)
		}
	}
	num(doc, "threshold_seconds")
	obj(doc["gaps"], "gaps")
	obj(doc["windows_total"], "windows_total")
	v := obj(doc["verdict"], "verdict")
	num(v, "expected", "measured", "margin", "allowance", "confidence")
	if v["ok"] != true || v["outcome"] != "pass" {
		t.Errorf("verdict %v", v)
	}
}

// TestAnalyzePprofSVG writes the profile and the timeline next to the report.
func TestAnalyzePprofSVG(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	code, _, stderr := runCLI(t, nil, "analyze", "--pprof", "seed.pb.gz", "--svg", "seed.svg", seedTraceFile)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	pb, err := os.ReadFile("seed.pb.gz")
	if err != nil || len(pb) < 2 || pb[0] != 0x1f || pb[1] != 0x8b {
		t.Errorf("pprof output: %v, %d bytes, want gzip", err, len(pb))
	}
	svg, err := os.ReadFile("seed.svg")
	if err != nil || !bytes.Contains(svg, []byte("<svg")) {
		t.Errorf("svg output: %v, %q", err, svg[:min(len(svg), 80)])
	}
	// An unwritable destination is an error, exit 2.
	code, _, stderr = runCLI(t, nil, "analyze", "--svg", filepath.Join(dir, "no", "such", "dir.svg"), seedTraceFile)
	if code != 2 || !strings.Contains(stderr, "--svg") {
		t.Errorf("exit %d, stderr %q; want 2 and an --svg error", code, stderr)
	}
}
