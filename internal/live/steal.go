package live

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// userHZ is the unit of /proc/stat's counters: USER_HZ, 100 on every Linux
// architecture gpuwatch builds for.
const userHZ = 100

// maxStealCPU bounds the CPU numbers ParseSteal accepts.
const maxStealCPU = 1 << 14

// ParseSteal reads /proc/stat text and returns each CPU's steal time (time
// the hypervisor ran something else while the vCPU wanted to run), in
// seconds since boot, indexed by CPU number. Only the "cpuN" lines count;
// the steal counter is their eighth.
func ParseSteal(r io.Reader) ([]float64, error) {
	ticks, err := parseStealTicks(r)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(ticks))
	for i, v := range ticks {
		out[i] = float64(v) / userHZ
	}
	return out, nil
}

// parseStealTicks is ParseSteal in USER_HZ ticks.
func parseStealTicks(r io.Reader) ([]uint64, error) {
	var steal []uint64
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		cpu, err := strconv.Atoi(f[0][3:])
		if err != nil || cpu < 0 || cpu >= maxStealCPU {
			return nil, fmt.Errorf("/proc/stat line %d: %q is not cpuN", line, f[0])
		}
		if len(f) < 9 {
			return nil, fmt.Errorf("/proc/stat line %d: %d counters for %s, expected at least 8 (user ... steal)", line, len(f)-1, f[0])
		}
		v, err := strconv.ParseUint(f[8], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("/proc/stat line %d: steal of %s: %w", line, f[0], err)
		}
		for len(steal) <= cpu {
			steal = append(steal, 0)
		}
		steal[cpu] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading /proc/stat: %w", err)
	}
	return steal, nil
}

// SampleSteal makes the runner report each CPU's steal time since the
// run started (Stats.StealSeconds), read from the /proc/stat file at path
// at each snapshot. For live sources: steal on the CPU taking the GPU's
// interrupt delays completions, which then look like switched-out
// windows. An unreadable file leaves StealSeconds empty.
func (r *Runner) SampleSteal(path string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statPath = path
	r.stealBase = readSteal(path)
}

func readSteal(path string) []uint64 {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	s, err := parseStealTicks(f)
	if err != nil {
		return nil
	}
	return s
}

// steal is each CPU's steal time since SampleSteal; r.mu is held.
func (r *Runner) steal() []float64 {
	if r.statPath == "" || r.stealBase == nil {
		return nil
	}
	now := readSteal(r.statPath)
	if now == nil {
		return nil
	}
	out := make([]float64, len(now))
	for i, v := range now {
		if i < len(r.stealBase) && r.stealBase[i] <= v {
			v -= r.stealBase[i]
		}
		out[i] = float64(v) / userHZ
	}
	return out
}

// irqCPU is the CPU on which most completions were signalled (the one
// taking the GPU's interrupt), -1 before any; r.mu is held.
func (r *Runner) irqCPU() int {
	best, n := -1, uint64(0)
	for c, k := range r.doneByCPU {
		if k > n {
			best, n = c, k
		}
	}
	return best
}
