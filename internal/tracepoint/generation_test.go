package tracepoint

import "testing"

func TestParseGeneration(t *testing.T) {
	for s, want := range map[string]Generation{
		"4.15": GenAMD, "amd": GenAMD, "4.9.2": GenAMD, "v4.4": GenAMD,
		"4.16": GenDRM, "drm": GenDRM, "5.15": GenDRM, "6.16": GenDRM,
		"6.17": Gen617, "6.18.2": Gen617, "7.0": Gen617, "617": Gen617,
	} {
		g, err := ParseGeneration(s)
		if err != nil || g != want {
			t.Errorf("ParseGeneration(%q) = %v, %v; want %v", s, g, err, want)
		}
	}
	for _, g := range Generations() {
		back, err := ParseGeneration(g.String())
		if err != nil || back != g {
			t.Errorf("ParseGeneration(%v.String()) = %v, %v", g, back, err)
		}
	}
	for _, s := range []string{"", "x", "6", "a.b"} {
		if _, err := ParseGeneration(s); err == nil {
			t.Errorf("ParseGeneration(%q) succeeded", s)
		}
	}
}
