package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func runAcc(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestAccuracyText(t *testing.T) {
	code, out, stderr := runAcc("--filter", "^(saturating-strict-4vf-6ms-saturate-const-4.15us|passthrough-saturate-exp-4.15ns)$", "-v")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"saturating-strict-4vf-6ms-saturate-const-4.15us", "passthrough-saturate-exp-4.15ns",
		"summary per class:", "saturating ", "passthrough ", "confidence ≥ 0.8", "2 scenarios in",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// the strict 4×6 ms saturating run meets its targets today
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "saturating-strict-4vf-6ms-saturate-const-4.15us  ") && !strings.HasSuffix(strings.TrimSpace(l), "met") {
			t.Errorf("row not met: %s", l)
		}
	}
}

func TestAccuracyMarkdown(t *testing.T) {
	code, out, stderr := runAcc("--markdown", "--filter", "^long-strict-2vf")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "| scenario | format |") || !strings.HasPrefix(lines[1], "|---|") || !strings.HasPrefix(lines[2], "| long-strict-2vf-6ms") {
		t.Errorf("not a markdown table:\n%s", out)
	}
	if !strings.Contains(out, "| class | n | target met |") || !strings.Contains(out, "| long | 1 |") {
		t.Errorf("no markdown summary:\n%s", out)
	}
}

func TestAccuracyBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--filter", "("}, {"--filter", "no-such-scenario"}, {"stray"}, {"--nope"}} {
		if code, _, _ := runAcc(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func TestAccuracyJSON(t *testing.T) {
	code, out, stderr := runAcc("--json", "--filter", "^passthrough-frames")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep struct {
		Results []struct {
			Scenario  string   `json:"scenario"`
			SliceErr  *float64 `json:"slice_err_pct"`
			TargetMet bool     `json:"target_met"`
		} `json:"results"`
		Classes []struct {
			Class string `json:"class"`
			N     int    `json:"n"`
		} `json:"classes"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(rep.Results) != 1 || rep.Results[0].Scenario != "passthrough-frames-exp-4.16us" || rep.Results[0].SliceErr != nil ||
		len(rep.Classes) != 1 || rep.Classes[0].Class != "passthrough" || rep.Classes[0].N != 1 {
		t.Errorf("unexpected report: %+v", rep)
	}
}
