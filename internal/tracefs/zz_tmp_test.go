package tracefs

import (
	"testing"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

var tmpLines = [][]byte{
	[]byte("          <idle>-0     [000]  1437.000003: drm_sched_process_job: fence=0xffff9a3b4000f600 signaled"),
	[]byte("           sdma0-301   [001]  1437.000008: drm_run_job:          entity=0xffff88812c4a2000, id=246, fence=0xffff9a3b4000f780, ring=sdma0, job count:0, hw job count:1"),
	[]byte("    kworker/u8:2-187   [001]  1437.000027: drm_sched_job:        entity=0xffff88812c4a2000, id=248, fence=0xffff9a3b4000f9c0, ring=sdma0, job count:1, hw job count:2"),
}

func BenchmarkTmpSplitFast(b *testing.B) {
	var ln textLine
	for b.Loop() {
		for _, l := range tmpLines {
			textSplitFast(l, &ln)
		}
	}
}

func BenchmarkTmpSplitLine(b *testing.B) {
	var ln textLine
	for b.Loop() {
		for _, l := range tmpLines {
			textSplitLine(l, &ln)
		}
	}
}

func BenchmarkTmpParseLine(b *testing.B) {
	w := newTextWorker("x")
	var ev event.Event
	for b.Loop() {
		for _, l := range tmpLines {
			w.parseLine(l, &ev)
		}
	}
}

func BenchmarkTmpMatch(b *testing.B) {
	var lns [3]textLine
	var fss [3][]*reportFormat
	for i, l := range tmpLines {
		textSplitLine(l, &lns[i])
		fss[i] = reportFormats[string(lns[i].name)]
	}
	var f reportFields
	for b.Loop() {
		for i := range lns {
			fss[i][0].match(lns[i].body, &f)
		}
	}
}
