package exporter

import (
	"strings"
	"testing"
)

func TestParseLabel(t *testing.T) {
	for _, c := range []struct {
		in, name, value, err string
	}{
		{in: "guest=vm1", name: "guest", value: "vm1"},
		{in: "_x9=a=b", name: "_x9", value: "a=b"},
		{in: `Host="quoted" \ odd`, name: "Host", value: `"quoted" \ odd`},
		{in: "gpu=0000:03:00.0", name: "gpu", value: "0000:03:00.0"},
		{in: "zone=ünïcode", name: "zone", value: "ünïcode"},
		{in: "guest", err: "expected name=value"},
		{in: "=vm1", err: "empty label name"},
		{in: "9guest=vm1", err: "not starting with a digit"},
		{in: "gu-est=vm1", err: "expected letters, digits and _"},
		{in: "gü=vm1", err: "expected letters, digits and _"},
		{in: "__name__=x", err: "reserved"},
		{in: "__x=1", err: "reserved"},
		{in: "ring=gfx", err: "gpuwatch's own series use it"},
		{in: "le=1", err: "gpuwatch's own series use it"},
		{in: "guest=", err: "empty value"},
		{in: "guest=\xff", err: "not valid UTF-8"},
	} {
		l, err := ParseLabel(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseLabel(%q) = %v, %v; want error containing %q", c.in, l, err, c.err)
			}
			continue
		}
		if err != nil || l.Name != c.name || l.Value != c.value {
			t.Errorf("ParseLabel(%q) = %+v, %v; want %s=%s", c.in, l, err, c.name, c.value)
		}
	}
}

func TestLabelsFlag(t *testing.T) {
	var ls Labels
	for _, s := range []string{"guest=vm1", "host=h\n1"} {
		if err := ls.Set(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := ls.Set("guest=vm2"); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("second guest= accepted: %v", err)
	}
	if got, want := ls.String(), `guest="vm1",host="h\n1"`; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
	if !ls.Has("host") || ls.Has("instance") {
		t.Errorf("Has: %v %v", ls.Has("host"), ls.Has("instance"))
	}
}

// TestLabelsOnEverySeries: every sample line carries the constant labels
// once, after the series' own, and the exposition still passes promtool.
func TestLabelsOnEverySeries(t *testing.T) {
	var ls Labels
	for _, s := range []string{`guest=vm "1"`, `host=a\b`} {
		if err := ls.Set(s); err != nil {
			t.Fatal(err)
		}
	}
	e := New(Options{Source: "replay", Version: "test", Expect: 0.5, Labels: ls})
	e.Update(fixedSnapshot())
	got := scrape(t, e)
	const want = `guest="vm \"1\"",host="a\\b"`
	n := 0
	for _, line := range strings.Split(got, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		n++
		if strings.Count(line, want) != 1 || !strings.Contains(line, want+"} ") {
			t.Errorf("sample without the constant labels at the end: %s", line)
		}
	}
	if n < 40 {
		t.Errorf("only %d samples", n)
	}
	samples := parse(t, got)
	for series, v := range map[string]float64{
		`gpuwatch_share_ratio{` + want + `}`:                                             0.4839,
		`gpuwatch_jobs_total{ring="gfx",` + want + `}`:                                   5000,
		`gpuwatch_process_jobs_total{ring="gfx",comm="glmark2",pid="2211",` + want + `}`: 4990,
		`gpuwatch_gap_seconds_bucket{le="+Inf",` + want + `}`:                            5990,
		`gpuwatch_expected_share_ratio{` + want + `}`:                                    0.5,
	} {
		if samples[series] != v {
			t.Errorf("%s = %v, want %v", series, samples[series], v)
		}
	}
	promtool(t, got)
}

// TestUndeterminedShare: an unknown share leaves the share series out
// (no number to alert on), while the schedule is still exported.
func TestUndeterminedShare(t *testing.T) {
	s := fixedSnapshot()
	s.Overall.ShareKnown = false
	e := New(Options{Source: "replay", Version: "test"})
	e.Update(s)
	got := parse(t, scrape(t, e))
	if _, ok := got["gpuwatch_share_ratio"]; ok {
		t.Error("gpuwatch_share_ratio exported for an undetermined share")
	}
	if _, ok := got["gpuwatch_share_stderr_ratio"]; ok {
		t.Error("gpuwatch_share_stderr_ratio exported for an undetermined share")
	}
	if got["gpuwatch_schedule_share_ratio"] != 0.4839 || got["gpuwatch_recent_share_ratio"] != 0.4839 {
		t.Errorf("schedule share %v, recent share %v", got["gpuwatch_schedule_share_ratio"], got["gpuwatch_recent_share_ratio"])
	}
}
