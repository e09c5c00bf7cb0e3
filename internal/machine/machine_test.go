package machine

import (
	"strings"
	"testing"
)

func TestCPUModel(t *testing.T) {
	const cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\ncpu MHz\t\t: 2450.000\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
	if got := cpuModel(strings.NewReader(cpuinfo)); got != "AMD EPYC 7B13" {
		t.Errorf("model %q", got)
	}
	if got := cpuModel(strings.NewReader("processor : 0\n")); got != "unknown" {
		t.Errorf("no model: %q", got)
	}
}

func TestStampString(t *testing.T) {
	s := Stamp{Kernel: "6.18.0", CPUs: 2, Model: "X", Commit: "abc"}
	if got := s.String(); got != "Linux 6.18.0, 2 CPUs (X), commit abc" {
		t.Errorf("%q", got)
	}
	if r := Read(); r.CPUs < 1 || r.Kernel == "" {
		t.Errorf("Read: %+v", r)
	}
}
