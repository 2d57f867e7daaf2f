package gemm

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// workspace holds the packing buffers of one goroutine's multiply. They are
// recycled through a free list so that steady-state calls allocate nothing.
type workspace struct {
	packA      []float32  // one zero-padded MR x kcBlock panel (the partial one at the bottom of A)
	edgeAValid bool       // packA holds the edge panel of the current (K, M) block
	packB      []float32  // kcBlock x ncBlock: the B panels that are packed
	bPanel     []*float32 // per panel of the current B block: where it starts ...
	bStride    []int      // ... and its row stride
	tile       []float32  // MR x NR result of a partial C tile
}

// reserve sizes the buffers for an mr x nr kernel.
func (ws *workspace) reserve(mr, nr int) {
	if n := mr * kcBlock; len(ws.packA) < n {
		ws.packA = make([]float32, n)
	}
	panels := (ncBlock + nr - 1) / nr
	if n := panels * nr * kcBlock; len(ws.packB) < n {
		ws.packB = make([]float32, n)
	}
	if len(ws.bPanel) < panels {
		ws.bPanel = make([]*float32, panels)
		ws.bStride = make([]int, panels)
	}
	if n := mr * nr; len(ws.tile) < n {
		ws.tile = make([]float32, n)
	}
	ws.edgeAValid = false
}

// freeWorkspaces is a free list; a buffered channel (unlike sync.Pool) is
// not emptied by the garbage collector, so reuse is deterministic.
var freeWorkspaces = make(chan *workspace, 64)

func getWorkspace() *workspace {
	select {
	case ws := <-freeWorkspaces:
		return ws
	default:
		return new(workspace)
	}
}

func putWorkspace(ws *workspace) {
	clear(ws.bPanel) // do not keep callers' matrices alive
	select {
	case freeWorkspaces <- ws:
	default:
	}
}

// minParallelFlops is the smallest multiply (2*m*n*k) worth splitting: waking
// a parked worker costs a few microseconds.
const minParallelFlops = 1 << 20

// job is one multiply split into parts along M or N. The caller and the
// workers claim parts from next until none are left.
type job struct {
	g      args
	parts  int
	unit   int  // rows or columns per part, a multiple of the tile size
	splitN bool // split columns (else rows)
	next   atomic.Int32
	// takers counts the workers that took a help request for this job; the
	// caller waits for them before reusing the job.
	takers sync.WaitGroup
}

// helpRequests is the queue of requests for a worker's help. A request that
// no worker has taken by the time its job's parts are all claimed is
// withdrawn, so the caller never waits for a worker that is slow to wake up.
var helpRequests struct {
	mu      sync.Mutex
	cond    sync.Cond    // signalled when a request is queued
	queue   []*job       // one entry per helper wanted
	pending atomic.Int32 // len(queue), readable without mu by spinning workers
	workers int          // worker goroutines started
}

func init() { helpRequests.cond.L = &helpRequests.mu }

// spinTime is how long an idle worker keeps polling for work before it parks.
// Waking a parked goroutine takes longer than a small multiply (tens of
// microseconds), so without it the caller would do most parts itself. The
// poll yields the processor to any other runnable goroutine.
const spinTime = 100 * time.Microsecond

// The caller's job lives in one reusable slot per concurrent caller.
var freeJobs = make(chan *job, 16)

// worker runs for the life of the process, parked on the condition variable when idle.
func worker() {
	h := &helpRequests
	for {
		if h.pending.Load() == 0 {
			deadline := time.Now().Add(spinTime)
			for i := 0; h.pending.Load() == 0; i++ {
				if i%16 == 15 && time.Now().After(deadline) {
					break
				}
				runtime.Gosched()
			}
		}
		h.mu.Lock()
		for len(h.queue) == 0 {
			h.cond.Wait()
		}
		j := h.queue[0]
		copy(h.queue, h.queue[1:])
		h.queue[len(h.queue)-1] = nil
		h.queue = h.queue[:len(h.queue)-1]
		h.pending.Store(int32(len(h.queue)))
		j.takers.Add(1) // under mu, so the caller's withdrawHelp sees it
		h.mu.Unlock()
		helperParts.Add(int64(j.work()))
		j.takers.Done()
	}
}

// requestHelp queues n help requests for j, starting workers up to maxWorkers.
func requestHelp(j *job, n, maxWorkers int) {
	h := &helpRequests
	h.mu.Lock()
	for ; h.workers < maxWorkers; h.workers++ {
		go worker()
	}
	for range n {
		h.queue = append(h.queue, j)
	}
	h.pending.Store(int32(len(h.queue)))
	h.mu.Unlock()
	for range n {
		h.cond.Signal()
	}
}

// withdrawHelp removes j's requests that no worker has taken.
func withdrawHelp(j *job) {
	h := &helpRequests
	h.mu.Lock()
	q := h.queue[:0]
	for _, x := range h.queue {
		if x != j {
			q = append(q, x)
		}
	}
	clear(h.queue[len(q):])
	h.queue = q
	h.pending.Store(int32(len(q)))
	h.mu.Unlock()
}

// work claims and runs parts of j until none are left.
func (j *job) work() (n int) {
	var ws *workspace
	for {
		p := int(j.next.Add(1)) - 1
		if p >= j.parts {
			break
		}
		if ws == nil {
			ws = getWorkspace()
		}
		sub := j.g
		lo := p * j.unit
		if j.splitN {
			hi := min(lo+j.unit, j.g.n)
			sub.n = hi - lo
			if j.g.transB {
				sub.b = j.g.b[lo*j.g.ldb:]
			} else {
				sub.b = j.g.b[lo:]
			}
			sub.c = j.g.c[lo:]
		} else {
			hi := min(lo+j.unit, j.g.m)
			sub.m = hi - lo
			if j.g.transA {
				sub.a = j.g.a[lo:]
			} else {
				sub.a = j.g.a[lo*j.g.lda:]
			}
			sub.c = j.g.c[lo*j.g.ldc:]
		}
		sub.run(ws)
		n++
	}
	if ws != nil {
		putWorkspace(ws)
	}
	return n
}

var helperParts, totalParts atomic.Int64

// Parallel split parameters.
const (
	partsPerThread = 4       // more parts than threads: a helper that starts late takes fewer
	minPartFlops   = 1 << 19 // parts smaller than this cost more to hand out than they save
)

// runParallel splits g into parts of C along the dimension that divides most
// evenly into tiles, and runs them on the caller and up to threads-1 workers.
func runParallel(g *args, threads int) {
	tileM, tileN := g.im.mr, g.im.nr
	if g.useDot() {
		tileM, tileN = dotMR, dotNR
	}
	want := min(threads*partsPerThread, max(1, 2*g.m*g.n*g.k/minPartFlops))
	// Largest part, in elements of C, when splitting each way.
	unitN, partsN := chunk(g.n, tileN, want)
	unitM, partsM := chunk(g.m, tileM, want)
	splitN := unitN*g.m <= unitM*g.n
	unit, parts := unitM, partsM
	if splitN {
		unit, parts = unitN, partsN
	}
	if parts < 2 {
		ws := getWorkspace()
		g.run(ws)
		putWorkspace(ws)
		return
	}
	var j *job
	select {
	case j = <-freeJobs:
	default:
		j = new(job)
	}
	j.g, j.parts, j.unit, j.splitN = *g, parts, unit, splitN
	j.next.Store(0)
	requestHelp(j, min(threads, parts)-1, threads-1)
	totalParts.Add(int64(parts))
	j.work()
	withdrawHelp(j)
	j.takers.Wait() // workers that took a request finish their parts
	j.g = args{}    // do not keep callers' matrices alive
	select {
	case freeJobs <- j:
	default:
	}
}

// chunk divides n into at most parts chunks of whole tiles and returns the chunk size and count.
func chunk(n, tile, parts int) (unit, count int) {
	tiles := (n + tile - 1) / tile
	per := (tiles + parts - 1) / parts
	unit = per * tile
	return unit, (n + unit - 1) / unit
}
