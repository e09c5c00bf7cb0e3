package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// analyze and watch --replay open their input the same way
// (internal/input): on every trace in testdata/traces, compressed or
// not, on a trace without GPU scheduler events and on files that are no
// trace, they give the same answer (the schedule, the windows, the jobs
// per ring) and the same exit code, and fail with the same error.
func TestAnalyzeAndReplaySame(t *testing.T) {
	dir := t.TempDir()
	traces, err := filepath.Glob(filepath.Join("..", "..", "testdata", "traces", "*"))
	if err != nil {
		t.Fatal(err)
	}
	var inputs []string
	for _, p := range traces {
		if strings.HasSuffix(p, ".report") || strings.HasSuffix(p, ".dat") {
			inputs = append(inputs, p)
		}
	}
	if len(inputs) < 5 {
		t.Fatalf("only %d traces in testdata/traces", len(inputs))
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, p := range []string{seedTraceFile, filepath.Join("..", "..", "testdata", "traces", "uprobe-drm-pattern.dat")} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, write(filepath.Base(p)+".gz", gz(t, b)), write(filepath.Base(p)+".zst", zstdBytes(t, b)))
	}
	var sched bytes.Buffer
	sched.WriteString("cpus=2\n")
	for i := range 100 {
		sched.WriteString("          <idle>-0     [000]  100.00" + string(rune('0'+i/10)) + string(rune('0'+i%10)) + "00: sched_switch:         prev_comm=swapper/0 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=kworker/0:1 next_pid=12 next_prio=120\n")
	}
	noGPU := write("sched-only.report", sched.Bytes())
	inputs = append(inputs, noGPU,
		write("empty.report", nil),
		write("notes.txt", []byte("shopping list\nmilk\neggs\n")),
		write("garbage.bin", []byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0}),
		write("trace.xz", []byte("\xfd7zXZ\x00\x00\x04")))

	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			acode, aout, aerr := runCLI(t, nil, "analyze", "--json", in)
			wcode, wout, werr := runCLI(t, nil, "watch", "--replay", in, "--speed", "0", "--json", "--listen", "", "--interval", "1h")
			if acode != wcode {
				t.Fatalf("exit %d from analyze, %d from watch --replay\nanalyze: %s\nwatch: %s", acode, wcode, aerr, werr)
			}
			if acode == exitUsage {
				a, w := lastError(aerr, "gpuwatch: "), lastError(werr, "gpuwatch watch: ", "gpuwatch: ")
				if a == "" || !strings.HasPrefix(w, a) {
					t.Errorf("analyze says %q, watch --replay %q", a, w)
				}
				if in == noGPU && !strings.Contains(a, "no GPU scheduler events in "+in+" (saw 100 sched_switch lines): record with trace-cmd record -e gpu_scheduler -e amdgpu -e dma_fence") {
					t.Errorf("no-GPU trace: %q", a)
				}
				return
			}
			var ad, wd struct {
				Timeslice    json.RawMessage `json:"timeslice"`
				WindowsTotal json.RawMessage `json:"windows_total"`
				Rings        []struct {
					Name string `json:"name"`
					Jobs uint64 `json:"jobs"`
				} `json:"rings"`
				Final bool `json:"final"`
				// analyze: input.events; watch: events
				Input struct {
					Events uint64 `json:"events"`
				} `json:"input"`
				Events uint64 `json:"events"`
			}
			if err := json.Unmarshal([]byte(aout), &ad); err != nil {
				t.Fatalf("analyze: %v\n%s", err, aout)
			}
			lines := strings.Split(strings.TrimSpace(wout), "\n")
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &wd); err != nil || !wd.Final {
				t.Fatalf("watch: %v (final %v)\n%s", err, wd.Final, wout)
			}
			if ad.Input.Events != wd.Events {
				t.Errorf("analyze read %d events, watch --replay %d", ad.Input.Events, wd.Events)
			}
			if compact(ad.Timeslice) != compact(wd.Timeslice) || compact(ad.WindowsTotal) != compact(wd.WindowsTotal) || !reflect.DeepEqual(ad.Rings, wd.Rings) {
				t.Errorf("analyze: %s %s %+v\nwatch:   %s %s %+v", compact(ad.Timeslice), compact(ad.WindowsTotal), ad.Rings, compact(wd.Timeslice), compact(wd.WindowsTotal), wd.Rings)
			}
		})
	}
}

func compact(m json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, m); err != nil {
		return "invalid: " + err.Error()
	}
	return b.String()
}

// lastError is the last line of stderr without the first of prefixes it
// starts with.
func lastError(stderr string, prefixes ...string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	l := lines[len(lines)-1]
	for _, p := range prefixes {
		if strings.HasPrefix(l, p) {
			return strings.TrimPrefix(l, p)
		}
	}
	return l
}

func zstdBytes(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
