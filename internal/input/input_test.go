package input

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

func gzipBytes(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstdBytes(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// count reads every event of name (opened with opt).
func count(t *testing.T, name string, opt Options) (int, Stats) {
	t.Helper()
	in, err := Open(name, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	n := 0
	if err := event.DrainBatches(in.Source(), func(evs []event.Event) { n += len(evs) }); err != nil {
		t.Fatal(err)
	}
	return n, in.Stats()
}

// Text and trace.dat, plain, gzip or zstd, from a file or stdin: the
// content decides, and every way gives the same events.
func TestOpenSniff(t *testing.T) {
	dir := t.TempDir()
	for _, src := range []string{"seed-s7150-half.report", "uprobe-drm-pattern.dat"} {
		raw, err := os.ReadFile(filepath.Join(tracesDir(t), src))
		if err != nil {
			t.Fatal(err)
		}
		want, wst := count(t, filepath.Join(tracesDir(t), src), Options{})
		if want == 0 {
			t.Fatalf("%s: no events", src)
		}
		for _, c := range []struct {
			name, comp string
			data       []byte
		}{{"gz", "gzip", gzipBytes(t, raw)}, {"zst", "zstd", zstdBytes(t, raw)}, {"plain", "", raw}} {
			p := filepath.Join(dir, src+"."+c.name)
			os.WriteFile(p, c.data, 0o644)
			for _, opt := range []Options{{}, {ReadAhead: true, Parallel: 3}, {Stdin: bytes.NewReader(c.data)}} {
				name := p
				if opt.Stdin != nil {
					name = "-"
				}
				got, st := count(t, name, opt)
				if got != want || st.Format != wst.Format || st.Compression != c.comp {
					t.Errorf("%s %s (%+v): %d events, format %q %q; want %d, %q %q", src, c.name, opt, got, st.Format, st.Compression, want, wst.Format, c.comp)
				}
			}
		}
	}
	xz := filepath.Join(dir, "t.xz")
	os.WriteFile(xz, []byte("\xfd7zXZ\x00\x00\x04\xe6\xd6\xb4\x46"), 0o644)
	if _, err := Open(xz, Options{}); err == nil || !strings.Contains(err.Error(), "xz-compressed input is not supported") || !strings.Contains(err.Error(), xz) {
		t.Errorf("xz: %v", err)
	}
	if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "missing"), Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}

// A trace.dat from a pipe is spooled up to the cap; beyond it the error
// says so and what to do.
func TestSpoolCap(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(tracesDir(t), "uprobe-drm-pattern.dat"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open("-", Options{Stdin: bytes.NewReader(raw), MaxSpool: int64(len(raw)) - 1, TempDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "larger than the spool cap") || !strings.Contains(err.Error(), "<stdin>") {
		t.Errorf("over the cap: %v", err)
	}
	in, err := Open("-", Options{Stdin: bytes.NewReader(raw), MaxSpool: int64(len(raw)), TempDir: t.TempDir()})
	if err != nil {
		t.Fatalf("at the cap: %v", err)
	}
	in.Close()
}
