package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestRunFlags: run checks the source flags it shares with watch, before
// it touches anything, naming the flag.
func TestRunFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--buffer-kb", "-1", "--", "true"}, "--buffer-kb -1: must be between 0"},
		{[]string{"--force", "--", "true"}, "--force: only with --record"},
		{[]string{"--horizon", "0s", "--", "true"}, "--horizon 0s: must be positive"},
		{[]string{"--source", "perf", "--", "true"}, `--source "perf": expected ebpf, tracefs or auto`},
		{[]string{"--expect", "half", "--", "true"}, `--expect: invalid share "half": want a fraction`},
	} {
		var stdout, stderr bytes.Buffer
		if code := runRun(tc.args, nil, &stdout, &stderr); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", tc.args, code, exitUsage)
		}
		if !strings.HasPrefix(stderr.String(), "gpuwatch run: "+tc.want) {
			t.Errorf("%q: stderr %q, want %q", tc.args, stderr.String(), "gpuwatch run: "+tc.want)
		}
	}
}
