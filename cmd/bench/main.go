// Command bench times training steps and inference of the zoo's models on
// random data and prints one JSON line per measurement, in the schema of
// the PyTorch anchor (bench/torch_resnet_cifar.py) so that the two
// compare line by line; bench/compare.sh runs both.
//
//	go run ./cmd/bench -models resnet20,resnet56 -infer resnet20 -batch 128 -steps 10 -warmup 3 -threads 2
//
// With -cpuprofile the run's CPU profile goes to a file for go tool pprof:
//
//	go run ./cmd/bench -models resnet56 -infer "" -steps 20 -cpuprofile cpu.out
//	go tool pprof -top cpu.out
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gorgonia-zoo/resnet/layers"
	"github.com/gorgonia-zoo/resnet/models"
	"github.com/gorgonia-zoo/resnet/train"
	"github.com/pkg/errors"
)

// record is one measurement, named as the PyTorch benchmark names its fields.
type record struct {
	Model             string  `json:"model"`
	Kind              string  `json:"kind"`
	Threads           int     `json:"threads"`
	Batch             int     `json:"batch"`
	Params            int     `json:"params"`
	MACs              int64   `json:"fwd_macs_per_img"`
	MsMedian          float64 `json:"ms_median"`
	MsMin             float64 `json:"ms_min"`
	MsMax             float64 `json:"ms_max"`
	ImgPerS           float64 `json:"img_per_s"`
	GFLOPs            float64 `json:"gflops"`
	N                 int     `json:"n"`
	PeakRSSMB         float64 `json:"peak_rss_mb"`
	AllocBytesPerStep float64 `json:"alloc_bytes_per_step"`
}

// usageError is a bad flag or value.
type usageError struct{ error }

// main exits with status 0 when done (or after -h), 2 on a usage error,
// 1 on any other.
func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	var u usageError
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return
	case errors.As(err, &u):
		fmt.Fprintf(os.Stderr, "bench: %v\nrun 'bench -h' for usage\n", err)
		os.Exit(2)
	}
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // main reports errors; -h prints the usage to stdout
	trainList := fs.String("models", "resnet20,resnet56", "comma-separated models to time one training step of")
	inferList := fs.String("infer", "resnet20", "comma-separated models to time forward-only (eval mode)")
	batch := fs.Int("batch", 128, "images per step")
	steps := fs.Int("steps", 10, "timed steps (the median is reported)")
	warmup := fs.Int("warmup", 3, "untimed steps first")
	threads := fs.Int("threads", 2, "cores to use (GOMAXPROCS)")
	ops := fs.Bool("ops", false, "after each measurement, build the step again, run -warmup steps, then time -steps more op by op and print one line per op class (ms per step)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to `file`, for go tool pprof")
	if err := fs.Parse(args); err == flag.ErrHelp {
		fs.SetOutput(stdout)
		fs.Usage()
		return err
	} else if err != nil {
		return usageError{err}
	}
	for _, c := range []struct {
		name string
		v    int
		min  int
	}{{"-batch", *batch, 1}, {"-steps", *steps, 1}, {"-warmup", *warmup, 0}, {"-threads", *threads, 1}} {
		if c.v < c.min {
			return usageError{errors.Errorf("%s %d: want at least %d", c.name, c.v, c.min)}
		}
	}
	runtime.GOMAXPROCS(*threads)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return usageError{errors.Wrap(err, "-cpuprofile")}
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return errors.Wrap(err, "-cpuprofile")
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Fprintf(stdout, "# ours (Go %s, Gorgonia) threads=%d batch=%d warmup=%d steps=%d\n", runtime.Version(), *threads, *batch, *warmup, *steps)
	for _, job := range jobs(*trainList, "train", *inferList, "infer") {
		m, err := models.New(job[0], models.Options{})
		if err != nil {
			return err
		}
		r := record{Model: job[0], Kind: job[1], Threads: *threads, Batch: *batch, Params: m.NumParams(), MACs: m.MACs()}
		times, allocs, err := measure(m, job[1], *batch, *warmup, *steps)
		if err != nil {
			return errors.Wrapf(err, "%s %s", job[0], job[1])
		}
		sort.Float64s(times)
		r.N = len(times)
		r.MsMedian = median(times) * 1e3
		r.MsMin, r.MsMax = times[0]*1e3, times[len(times)-1]*1e3
		r.ImgPerS = float64(*batch) / median(times)
		flopsPerImage := 2 * float64(r.MACs)
		if job[1] == "train" {
			flopsPerImage *= 3 // forward, and a backward of about twice the forward
		}
		r.GFLOPs = flopsPerImage * float64(*batch) / median(times) / 1e9
		r.AllocBytesPerStep = allocs
		r.PeakRSSMB = peakRSSMB()
		b, _ := json.Marshal(r)
		fmt.Fprintln(stdout, string(b))
		if *ops {
			if err := printOps(stdout, m, r, *warmup, *steps); err != nil {
				return errors.Wrapf(err, "%s %s ops", job[0], job[1])
			}
		}
	}
	return nil
}

// opRecord is one op class's share of a step.
type opRecord struct {
	Model   string  `json:"model"`
	Kind    string  `json:"kind"`
	Threads int     `json:"threads"`
	Batch   int     `json:"batch"`
	Op      string  `json:"op"`
	Ms      float64 `json:"ms_per_step"`
}

// printOps times steps more steps of r's model and kind, on a step built
// afresh and run warmup times first as measure's is, with the ops' profile
// on and prints the mean time per step of each op class (the SGD update
// and, as "framework and the rest", what the step spends outside the zoo's
// ops: Gorgonia's tape machine and its stock ops), largest first.
func printOps(w io.Writer, m *models.Model, r record, warmup, steps int) error {
	var total, update time.Duration
	var times layers.OpTimes
	runtime.GC() // the measured step's buffers are garbage now
	err := withStep(m, r.Kind, r.Batch, func(forward, sgd func() error) error {
		for i := 0; i < warmup; i++ {
			if err := forward(); err != nil {
				return err
			}
			if sgd != nil {
				if err := sgd(); err != nil {
					return err
				}
			}
		}
		layers.StartOpProfile()
		defer func() { times = layers.StopOpProfile() }()
		for i := 0; i < steps; i++ {
			t0 := time.Now()
			if err := forward(); err != nil {
				return err
			}
			t1 := time.Now()
			if sgd != nil {
				if err := sgd(); err != nil {
					return err
				}
			}
			update += time.Since(t1)
			total += time.Since(t0)
		}
		return nil
	})
	if err != nil {
		return err
	}
	per := func(d time.Duration) float64 { return float64(d) / float64(steps) / 1e6 }
	rest := total - update
	rows := []opRecord{}
	for _, c := range times.Classes() {
		rows = append(rows, opRecord{Op: c, Ms: per(times[c])})
		rest -= times[c]
	}
	if r.Kind == "train" {
		rows = append(rows, opRecord{Op: "sgd update", Ms: per(update)})
	}
	rows = append(rows, opRecord{Op: "framework and the rest", Ms: per(rest)}, opRecord{Op: "total", Ms: per(total)})
	for _, row := range rows {
		row.Model, row.Kind, row.Threads, row.Batch = r.Model, r.Kind, r.Threads, r.Batch
		b, _ := json.Marshal(row)
		fmt.Fprintln(w, string(b))
	}
	return nil
}

// jobs lists (model, kind) pairs from the comma-separated flag values.
func jobs(trainList, trainKind, inferList, inferKind string) [][2]string {
	var out [][2]string
	for _, l := range []struct{ list, kind string }{{trainList, trainKind}, {inferList, inferKind}} {
		for _, m := range strings.Split(l.list, ",") {
			if m = strings.TrimSpace(m); m != "" {
				out = append(out, [2]string{m, l.kind})
			}
		}
	}
	return out
}

// withStep builds one step of kind on random images and labels and calls
// f with its parts: forward (for training, the forward and backward pass)
// and, for training, the SGD update (nil for inference).
func withStep(m *models.Model, kind string, batch int, f func(forward, update func() error) error) error {
	rng := rand.New(rand.NewSource(1))
	chw := m.InputShape()
	images := make([]float32, batch*chw[0]*chw[1]*chw[2])
	for i := range images {
		images[i] = float32(rng.NormFloat64())
	}
	if kind != "train" {
		inf, err := models.NewInference(m, batch)
		if err != nil {
			return err
		}
		defer inf.Close()
		copy(inf.Input(), images)
		return f(func() error {
			_, err := inf.Run()
			return err
		}, nil)
	}
	s, err := train.NewStep(m, batch, 0.9, 1e-4)
	if err != nil {
		return err
	}
	defer s.Close()
	labels := make([]int, batch)
	for i := range labels {
		labels[i] = rng.Intn(s.Classes())
	}
	return f(func() error {
		_, _, err := s.Run(images, labels)
		return err
	}, func() error { return s.Update(0.1) })
}

// measure times warmup+steps steps of one kind on random images and labels
// and returns the timed steps' durations in seconds and the bytes allocated
// per timed step.
func measure(m *models.Model, kind string, batch, warmup, steps int) ([]float64, float64, error) {
	var times []float64
	var allocs float64
	err := withStep(m, kind, batch, func(forward, update func() error) error {
		step := func() error {
			if err := forward(); err != nil || update == nil {
				return err
			}
			return update()
		}
		for i := 0; i < warmup; i++ {
			if err := step(); err != nil {
				return err
			}
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		times = make([]float64, steps)
		for i := range times {
			t0 := time.Now()
			if err := step(); err != nil {
				return err
			}
			times[i] = time.Since(t0).Seconds()
		}
		runtime.ReadMemStats(&after)
		allocs = float64(after.TotalAlloc-before.TotalAlloc) / float64(steps)
		return nil
	})
	return times, allocs, err
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// peakRSSMB is the process's peak resident set size so far (VmHWM), in MB.
func peakRSSMB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
