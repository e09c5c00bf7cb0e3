package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestAnalyzeTraceDatMatchesReport: gpuwatch analyze on a real trace.dat
// (trace-cmd 3.1 extract of uprobe events shaped like drm_run_job /
// drm_sched_process_job, fired 6 ms on / 6.4 ms off; v7, zstd) gives the
// same analysis as on the text of `trace-cmd report -t` of that file.
func TestAnalyzeTraceDatMatchesReport(t *testing.T) {
	dat := filepath.Join("..", "..", "testdata", "traces", "uprobe-drm-pattern.dat")
	txt := filepath.Join("..", "..", "testdata", "traces", "uprobe-drm-pattern.report")
	decode := func(path string) map[string]any {
		code, out, errOut := runCLI(t, nil, "analyze", "--json", path)
		if code != exitOK {
			t.Fatalf("analyze %s: exit %d\n%s", path, code, errOut)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b := decode(dat), decode(txt)
	for _, key := range []string{"span", "rings", "timeslice", "windows", "windows_total", "gaps", "threshold_seconds"} {
		ja, _ := json.Marshal(a[key])
		jb, _ := json.Marshal(b[key])
		if string(ja) != string(jb) {
			t.Errorf("%s differs:\n trace.dat %s\n report    %s", key, ja, jb)
		}
	}
	in := a["input"].(map[string]any)
	if in["format"] != "trace.dat" || in["events"].(float64) < 2000 {
		t.Errorf("input %v: want a trace.dat with its events", in)
	}
	ts := a["timeslice"].(map[string]any)
	if ts["detected"] != true {
		t.Fatalf("no schedule detected: %v", ts["reason"])
	}
	if s := ts["share"].(float64); s < 0.47 || s > 0.50 {
		t.Errorf("share %.4f, fired 6/12.4 = 0.4839", s)
	}
}

// TestWatchReplaysTraceDat: `watch --replay` takes a trace.dat too, and its
// final object equals analyze on the same file.
func TestWatchReplaysTraceDat(t *testing.T) {
	dat := filepath.Join("..", "..", "testdata", "traces", "uprobe-drm-pattern.dat")
	code, out, errOut := runCLI(t, nil, "watch", "--replay", dat, "--speed", "0", "--json", "--listen", "")
	if code != exitOK {
		t.Fatalf("watch: exit %d\n%s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var final struct {
		Final     bool
		Events    uint64
		Timeslice map[string]any
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &final); err != nil || !final.Final {
		t.Fatalf("last line is not the final object (%v): %s", err, lines[len(lines)-1])
	}
	_, aout, _ := runCLI(t, nil, "analyze", "--json", dat)
	var a struct{ Timeslice map[string]any }
	if err := json.Unmarshal([]byte(aout), &a); err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal(a.Timeslice)
	jw, _ := json.Marshal(final.Timeslice)
	if string(ja) != string(jw) || final.Events < 2000 {
		t.Errorf("watch final (%d events) %s\nanalyze %s", final.Events, jw, ja)
	}
}
