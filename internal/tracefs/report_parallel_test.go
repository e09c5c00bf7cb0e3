package tracefs

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"golang.org/x/tools/txtar"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

// textDrain drains r and returns everything a caller can observe.
type textResult struct {
	Events   []event.Event
	Err      string
	Stats    TextStats
	Warnings []Warning
}

func textDrain(r *TextReader) textResult { return textDrainBy(r, false) }

// textDrainBy drains r through NextBatch when batch is set, else Next.
func textDrainBy(r *TextReader, batch bool) textResult {
	var res textResult
	for {
		var evs []event.Event
		var err error
		if batch {
			evs, err = r.NextBatch()
			if err == nil && len(evs) == 0 {
				res.Err = "NextBatch returned no events and no error"
				break
			}
		} else {
			var ev event.Event
			ev, err = r.Next()
			evs = []event.Event{ev}
		}
		if err != nil {
			if err != io.EOF {
				res.Err = err.Error()
			}
			break
		}
		res.Events = append(res.Events, evs...)
	}
	r.Close()
	res.Stats = r.Stats()
	res.Warnings = r.Warnings()
	return res
}

func textCompare(t *testing.T, what string, seq, par textResult) {
	t.Helper()
	if seq.Err != par.Err {
		t.Errorf("%s: error %q, sequential %q", what, par.Err, seq.Err)
	}
	if len(seq.Events) != len(par.Events) {
		t.Errorf("%s: %d events, sequential %d", what, len(par.Events), len(seq.Events))
	}
	for i := range min(len(seq.Events), len(par.Events)) {
		if seq.Events[i] != par.Events[i] {
			t.Errorf("%s: event %d\n  %+v\nsequential\n  %+v", what, i, par.Events[i], seq.Events[i])
			break
		}
	}
	if !reflect.DeepEqual(seq.Stats, par.Stats) {
		t.Errorf("%s: stats %+v\nsequential %+v", what, par.Stats, seq.Stats)
	}
	if !reflect.DeepEqual(seq.Warnings, par.Warnings) {
		t.Errorf("%s: warnings %v\nsequential %v", what, par.Warnings, seq.Warnings)
	}
}

// textParallelInputs are texts that exercise every piece of state a line
// depends on across block boundaries.
func textParallelInputs(t *testing.T) map[string][]byte {
	in := map[string][]byte{}
	files, _ := filepath.Glob("testdata/report/*.txtar")
	for _, f := range files {
		ar, err := txtar.ParseFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, fl := range ar.Files {
			if fl.Name == "input" {
				in[filepath.Base(f)] = fl.Data
			}
		}
	}
	if len(in) == 0 {
		t.Fatal("no golden inputs")
	}
	var b bytes.Buffer
	b.WriteString("cpus=2\n")
	for _, s := range textFuzzSeeds {
		b.WriteString(s + "\n")
	}
	in["fuzz-seeds"] = bytes.Clone(b.Bytes())
	// LOST markers first in blocks, ns times then bare integers (the unit
	// of the last dotted time), CRLF, a line over reportMaxLine, a
	// truncated last line, warnings.
	b.Reset()
	b.WriteString("version = 6\ncpus=2\n")
	b.WriteString("           <...>-0     [000]          500: drm_sched_job_wait_dep: job ring=sdma0, id=0, depends fence=0xffff801400000200, context=5, seq=8\n")
	for i := range 300 {
		b.WriteString("CPU:1 [LOST 7 EVENTS]\n")
		b.WriteString("          <idle>-0     [000]  1437.803888123: drm_sched_process_job: fence=0xffff9a3b4000f600 signaled\r\n")
		b.WriteString("           <...>-0     [000]          501: drm_sched_job_wait_dep: job ring=sdma0, id=0, depends fence=0xffff801400000200, context=5, seq=8\n")
		b.WriteString("           sdma0-301   [001]  1437.000008: drm_run_job: entity=0xffff88812c4a2000, id=246, fence=0xffff9a3b4000f780, ring=sdma0, job count:0, hw job count:1\n")
		b.WriteString("           <...>-0     [000]          502: drm_sched_job_wait_dep: job ring=sdma0, id=0, depends fence=0xffff801400000200, context=5, seq=8\n")
		b.WriteString("           sdma0-301   [001]  1437.000009: drm_run_job: garbage\n")
		b.WriteString("           sdma0-301   [001]  1437.000010: sched_switch: prev_comm=x\n")
		b.WriteString("cpus=4\n\n  \n")
		if i == 150 {
			b.WriteString("           sdma0-301   [001]  1437.000011: drm_run_job: " + strings.Repeat("x", reportMaxLine+5000) + "\n")
			b.WriteString(strings.Repeat("y", 2*reportMaxLine) + "\n")
		}
	}
	b.WriteString("          <idle>-0     [000]  1437.803888: drm_sched_process_job: fence=0xffff9a3b40")
	in["state"] = bytes.Clone(b.Bytes())
	return in
}

// TestParallelMatchesSequential checks that the parallel reader returns
// what the sequential one does, whatever the block size.
func TestParallelMatchesSequential(t *testing.T) {
	for name, data := range textParallelInputs(t) {
		seq := textDrain(NewTextReader(bytes.NewReader(data), name))
		textCompare(t, name+" (sequential, NextBatch)", seq, textDrainBy(NewTextReader(bytes.NewReader(data), name), true))
		for _, bs := range []int{1, 100, 4096, textBlockSize} {
			for _, workers := range []int{2, 3} {
				// workers 3 reads through NextBatch (event.Drain's way).
				r := NewTextReader(bytes.NewReader(data), name)
				r.Parallel(workers)
				r.blockSize = bs
				textCompare(t, name, seq, textDrainBy(r, workers == 3))
				if r.par == nil && len(seq.Events) > 0 {
					t.Errorf("%s: the pipeline never started", name)
				}
			}
		}
	}
}

// TestParallelReadError: a read error ends the parallel reader as it ends
// the sequential one, after the lines before it.
func TestParallelReadError(t *testing.T) {
	data := textParallelInputs(t)["fuzz-seeds"]
	errBoom := errors.New("boom")
	mk := func() io.Reader {
		return io.MultiReader(iotest.HalfReader(bytes.NewReader(data)), bytes.NewReader([]byte("partial line")), iotest.ErrReader(errBoom))
	}
	seq := textDrain(NewTextReader(mk(), "x"))
	if !strings.Contains(seq.Err, "boom") {
		t.Fatalf("sequential error %q", seq.Err)
	}
	for _, bs := range []int{64, 1 << 20} {
		r := NewTextReader(mk(), "x")
		r.Parallel(2)
		r.blockSize = bs
		textCompare(t, "read error", seq, textDrain(r))
	}
}

// TestParallelClose: Close before the end stops the goroutines and makes
// Next fail.
func TestParallelClose(t *testing.T) {
	data := bytes.Repeat(textParallelInputs(t)["fuzz-seeds"], 200)
	r := NewTextReader(bytes.NewReader(data), "x")
	r.Parallel(2)
	r.blockSize = 4096
	for range 10 {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	for range 100000 {
		if _, err := r.Next(); err != nil {
			if err == io.EOF {
				t.Fatalf("Next after Close: EOF, want an error")
			}
			return
		}
	}
	t.Fatal("Next after Close keeps returning events")
}

// FuzzParallelMatchesSequential cuts arbitrary text into small blocks.
func FuzzParallelMatchesSequential(f *testing.F) {
	for _, s := range textFuzzSeeds {
		f.Add("cpus=2\nCPU:0 [LOST 3 EVENTS]\n"+s+"\n"+s, uint8(7))
	}
	if b, err := os.ReadFile("testdata/report/latency_report.txtar"); err == nil {
		f.Add(string(b), uint8(200))
	}
	f.Fuzz(func(t *testing.T, in string, bs uint8) {
		seq := textDrain(NewTextReader(strings.NewReader(in), "fuzz"))
		r := NewTextReader(strings.NewReader(in), "fuzz")
		r.Parallel(2)
		r.blockSize = int(bs) + 1
		textCompare(t, "fuzz", seq, textDrainBy(r, bs%2 == 1))
	})
}
