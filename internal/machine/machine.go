package machine

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// Stamp is the machine and commit a measurement ran on.
type Stamp struct {
	Kernel string // "6.18.0" ("unknown" when it cannot be read)
	CPUs   int
	Model  string // the first CPU's model name
	Commit string // short hash, " (modified)" when the tree differs
}

// Read describes this machine and the commit of the working directory.
func Read() Stamp {
	s := Stamp{Kernel: "unknown", CPUs: runtime.NumCPU(), Model: "unknown", Commit: "unknown"}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		s.Kernel = strings.TrimSpace(string(b))
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		s.Model = cpuModel(f)
		f.Close()
	}
	if b, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output(); err == nil {
		s.Commit = strings.TrimSpace(string(b))
		if err := exec.Command("git", "diff", "--quiet", "HEAD").Run(); err != nil {
			s.Commit += " (modified)"
		}
	}
	return s
}

// cpuModel returns the first "model name" of /proc/cpuinfo text.
func cpuModel(r io.Reader) string {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func (s Stamp) String() string {
	return fmt.Sprintf("Linux %s, %d CPUs (%s), commit %s", s.Kernel, s.CPUs, s.Model, s.Commit)
}
