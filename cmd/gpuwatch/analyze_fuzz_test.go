package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// FuzzAnalyze feeds arbitrary input to `gpuwatch analyze --json -`: it
// never panics, exits 0 or 2 (no --expect), prints valid JSON exactly when
// it exits 0 or reports a read error, and prints nothing on stdout for
// input that is not a report.
func FuzzAnalyze(f *testing.F) {
	seed, err := os.ReadFile(seedTraceFile)
	if err != nil {
		f.Fatal(err)
	}
	// Small seeds: the fuzzer minimises every new input it finds, and
	// minimising a 40 KB trace takes minutes.
	f.Add(seed[:2048])
	f.Add(seed[len(seed)-1024:])
	f.Add([]byte("version = 6\ncpus=1\n"))
	f.Add([]byte("CPU:0 [LOST 5 EVENTS]\n"))
	f.Add([]byte("  <idle>-0 [000] 1.000001: amd_sched_process_job: fence=0x1 signaled\n"))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0})
	f.Add([]byte("\x17\x08\x44tracing6"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var out, errb bytes.Buffer
		code := runWith([]string{"analyze", "--json", "-"}, bytes.NewReader(in), &out, &errb)
		switch code {
		case exitOK:
		case exitUsage:
			if out.Len() == 0 {
				return
			}
		default:
			t.Fatalf("exit %d\n%s", code, errb.String())
		}
		if !json.Valid(out.Bytes()) || !strings.Contains(out.String(), `"schema": "gpuwatch.analysis/v1"`) {
			t.Fatalf("exit %d with invalid JSON:\n%s\nstderr:\n%s", code, out.String(), errb.String())
		}
	})
}
