package ftrace

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

type eventT = event.Event

// decRecord builds a drm_run_job record for the derived format
// testdata/format/drm_run_job.format.
func decRecord(id uint16, pid int32, entity, fence, jobID uint64, ring string, jc uint32, hw int32) []byte {
	le := binary.LittleEndian
	b := make([]byte, 48)
	le.PutUint16(b, id)
	le.PutUint32(b[4:], uint32(pid))
	le.PutUint64(b[8:], entity)
	le.PutUint64(b[16:], fence)
	le.PutUint32(b[24:], uint32(48)|uint32(len(ring)+1)<<16)
	le.PutUint64(b[32:], jobID)
	le.PutUint32(b[40:], jc)
	le.PutUint32(b[44:], uint32(hw))
	return append(append(b, ring...), 0)
}

func decDRM(t testing.TB) *Decoder {
	f := fmtLoad(t, "drm_run_job.format")
	f.System = "gpu_scheduler"
	return NewDecoder([]*Format{f})
}

func TestDecodeDRM(t *testing.T) {
	d := decDRM(t)
	rec := decRecord(1234, 77, 0xffff8880aa, 0xffff8881bb, 9, "gfx", 3, -2)
	var ev event.Event
	ok, err := d.Decode(5000, 1, rec, &ev)
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	want := event.Event{Time: 5000, CPU: 1, PID: 77, Kind: event.KindRun, Name: "gpu_scheduler:drm_run_job", Ring: "gfx",
		Job: event.JobKey{Fence: 0xffff8881bb}, ID: 9, Entity: 0xffff8880aa, JobCount: 3, HWJobCount: -2}
	if ev != want {
		t.Errorf("got  %+v\nwant %+v", ev, want)
	}
	if ok, _ := d.Decode(0, 0, decRecord(99, 1, 0, 0, 0, "x", 0, 0), &ev); ok {
		t.Error("unknown id decoded")
	}
	if ok, err := d.Decode(0, 0, rec[:40], &ev); !ok || err == nil {
		t.Errorf("short record: ok=%v err=%v", ok, err)
	}
	if ok, err := d.Decode(0, 0, rec[:1], &ev); ok || err == nil {
		t.Errorf("1-byte record: ok=%v err=%v", ok, err)
	}
	allocs := testing.AllocsPerRun(100, func() { d.Decode(5000, 1, rec, &ev) })
	if allocs != 0 {
		t.Errorf("%v allocations per decode, want 0 (ring names interned)", allocs)
	}
}

// __rel_loc counts from the end of the field; HWJobCount is -1 when the
// event has no such field.
func TestDecodeRelLoc(t *testing.T) {
	text := "name: drm_sched_job_run\nID: 40\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n" +
		"\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n" +
		"\tfield:__rel_loc char[] name;\toffset:8;\tsize:4;\tsigned:0;\n" +
		"\tfield:u64 fence_context;\toffset:16;\tsize:8;\tsigned:0;\n" +
		"\tfield:u64 fence_seqno;\toffset:24;\tsize:8;\tsigned:0;\n"
	f, err := ParseFormat(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	f.System = "gpu_scheduler"
	d := NewDecoder([]*Format{f})
	if !d.Known(40) {
		t.Skip("drm_sched_job_run is not in the Known table")
	}
	s, _ := tracepoint.Lookup("gpu_scheduler", "drm_sched_job_run")
	le := binary.LittleEndian
	b := make([]byte, 32)
	le.PutUint16(b, 40)
	le.PutUint32(b[8:], uint32(32-12)|4<<16) // from the field end (12)
	le.PutUint64(b[16:], 7)
	le.PutUint64(b[24:], 8)
	b = append(b, "sdma"...)
	var ev event.Event
	if ok, err := d.Decode(1, 0, b, &ev); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if s.Ring == "name" && ev.Ring != "sdma" {
		t.Errorf("ring %q", ev.Ring)
	}
	if s.Context == "fence_context" && (ev.Job.Context != 7 || ev.Job.Seqno != 8) {
		t.Errorf("job %+v", ev.Job)
	}
	if ev.JobCount != -1 || ev.HWJobCount != -1 {
		t.Errorf("counts %d %d, want -1", ev.JobCount, ev.HWJobCount)
	}
}

// pageLoadDir reads a captured directory: header_page, header_event and
// SYSTEM__EVENT.format files.
func pageLoadDir(t testing.TB, dir string) (PageLayout, HeaderEvent, *Decoder) {
	t.Helper()
	hp, err := os.Open(filepath.Join(dir, "header_page"))
	if err != nil {
		t.Fatal(err)
	}
	defer hp.Close()
	l, err := ParseHeaderPage(hp)
	if err != nil {
		t.Fatal(err)
	}
	he, err := os.Open(filepath.Join(dir, "header_event"))
	if err != nil {
		t.Fatal(err)
	}
	defer he.Close()
	h, err := ParseHeaderEvent(he)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.format"))
	var fs []*Format
	for _, fn := range files {
		fh, err := os.Open(fn)
		if err != nil {
			t.Fatal(err)
		}
		f, err := ParseFormat(fh)
		fh.Close()
		if err != nil {
			t.Fatalf("%s: %v", fn, err)
		}
		f.System, _, _ = strings.Cut(filepath.Base(fn), "__")
		fs = append(fs, f)
	}
	return l, h, NewDecoder(fs)
}

func FuzzDecodePage(f *testing.F) {
	p := &pageBuilder{ts: 1000}
	p.rec(5, []byte{1, 2, 3, 4})
	p.extend(3<<27 + 7)
	p.rec(1, make([]byte, 200))
	p.discarded(24)
	p.abs(0x0123_4567_89ab)
	p.rec(2, decRecord(1234, 1, 2, 3, 4, "gfx", 0, 1))
	f.Add(p.page(pageMissedEvents|pageMissedStored, 3)[:16+len(p.data)+8])
	if raws, _ := filepath.Glob("testdata/pages/*/cpu*.raw"); len(raws) > 0 {
		if b, err := os.ReadFile(raws[0]); err == nil && len(b) >= 4096 {
			f.Add(b[:4096])
		}
	}
	d := decDRM(f)
	f.Fuzz(func(t *testing.T, page []byte) {
		info, err := DecodePage(DefaultPageLayout, DefaultHeaderEvent, page, func(ts uint64, rec []byte) {
			var ev event.Event
			d.Decode(ts, 0, rec, &ev)
		})
		if err == nil && info.Commit > len(page) {
			t.Fatalf("commit %d beyond a %d-byte page", info.Commit, len(page))
		}
	})
}

// BenchmarkDecodePage decodes a full page of drm_run_job records into
// events; ns/event is the cost per record (page walk plus field decode).
func BenchmarkDecodePage(b *testing.B) {
	d := decDRM(b)
	p := &pageBuilder{ts: 1}
	rec := decRecord(1234, 1, 2, 3, 4, "gfx", 0, 1)
	for len(p.data)+4+len(rec)+8 < 4080 {
		p.rec(100, rec)
	}
	page := p.page(0, 0)
	var ev event.Event
	n := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		info, err := DecodePage(DefaultPageLayout, DefaultHeaderEvent, page, func(ts uint64, r []byte) {
			d.Decode(ts, 0, r, &ev)
		})
		if err != nil {
			b.Fatal(err)
		}
		n += info.Records
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/event")
}

// BenchmarkDecodePageWalk is the reference for BenchmarkDecodePage: the
// same page walked without decoding the records (the ratio of the two
// ns/event is the cost of field decoding).
func BenchmarkDecodePageWalk(b *testing.B) {
	p := &pageBuilder{ts: 1}
	rec := decRecord(1234, 1, 2, 3, 4, "gfx", 0, 1)
	for len(p.data)+4+len(rec)+8 < 4080 {
		p.rec(100, rec)
	}
	page := p.page(0, 0)
	n := 0
	var sink uint64
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		info, err := DecodePage(DefaultPageLayout, DefaultHeaderEvent, page, func(ts uint64, r []byte) { sink += ts })
		if err != nil {
			b.Fatal(err)
		}
		n += info.Records
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/event")
	_ = sink
}

// TestDecodePointerRing: a ring name held as "const char *" (the record
// has the kernel address, not the text) is named by its address in hex,
// as trace-cmd prints it ("%llx"): two rings stay two rings, and a
// trace.dat reads as its trace-cmd report text does.
func TestDecodePointerRing(t *testing.T) {
	f := fmtLoad(t, "drm_run_job_ptr.format")
	f.System = "gpu_scheduler"
	d := NewDecoder([]*Format{f})
	rec := func(name uint64) []byte {
		b := decRecord(1234, 77, 0xffff8880aa, 0xffff8881bb, 9, "", 3, -2)[:48]
		binary.LittleEndian.PutUint64(b[24:], name)
		return b
	}
	for _, tc := range []struct {
		addr uint64
		want string
	}{
		{0xffffffffc05b1d42, "ffffffffc05b1d42"},
		{0xffff88812c4a2e10, "ffff88812c4a2e10"},
		{0x1f, "1f"},
		{0, "0"},
	} {
		var ev event.Event
		if ok, err := d.Decode(5000, 1, rec(tc.addr), &ev); !ok || err != nil {
			t.Fatal(ok, err)
		}
		want := event.Event{Time: 5000, CPU: 1, PID: 77, Kind: event.KindRun, Name: "gpu_scheduler:drm_run_job", Ring: tc.want,
			Job: event.JobKey{Fence: 0xffff8881bb}, ID: 9, Entity: 0xffff8880aa, JobCount: 3, HWJobCount: -2}
		if ev != want {
			t.Errorf("got  %+v\nwant %+v", ev, want)
		}
	}
	// The text path reads what trace-cmd printed for such a record to the
	// same ring: reporttext's TestReportPointerRing.
	var ev event.Event
	if ok, err := d.Decode(0, 0, rec(1)[:30], &ev); !ok || err == nil {
		t.Errorf("record cut in the pointer: ok=%v err=%v", ok, err)
	}
	r1 := rec(0xffffffffc05b1d42)
	allocs := testing.AllocsPerRun(100, func() { d.Decode(5000, 1, r1, &ev) })
	if allocs != 0 {
		t.Errorf("%v allocations per decode, want 0 (names interned)", allocs)
	}
}
