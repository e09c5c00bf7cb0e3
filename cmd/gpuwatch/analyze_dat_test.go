package main

import (
	"encoding/json"
	"path/filepath"
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
