package notebooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A run is one execution of a notebook by TestNotebooks, with the test's
// small settings.
type run struct {
	notebook string                     // the file name without .ipynb
	variant  string                     // what the run varies, if the notebook has several runs
	env      func(root string) []string // settings beyond the common ones; root is the module root
	expected []string                   // lines the output must contain
}

// runs lists every run of every notebook.
var runs = []run{
	{notebook: "01_residual_blocks", expected: []string{
		"BasicBlock conv weights: 73728 (2*64*64*9 = 73728)",
		"Bottleneck conv weights: 69632 (256*64 + 64*64*9 + 64*256 = 69632)",
		"BasicBlock identity: true",
		"Bottleneck identity: true",
		"wrote DOT",
	}},
	{notebook: "02_training", expected: []string{
		"finished 3 iterations",
		"curves:",
	}},
	// By default 03 reads the committed results: every seed of both sides.
	{notebook: "03_degradation", variant: "committed",
		env: func(root string) []string {
			return []string{"NB_RESULTS=" + filepath.Join(root, "results", "fig6-quick")}
		},
		expected: []string{
			"  ours    seed1  ",
			"  pytorch seed1  ",
			"plain20   ours       269722   1500",
			"resnet56  pytorch    853018   1500",
			" seeds: training error ", // the curves read
			"Figure 6:",
			"resnet56   55 layers, ", // the layer responses (ours only)
			"layer responses:",
		}},
	// The nine-net grid: every depth of Figure 6, one seed a side.
	{notebook: "03_degradation", variant: "grid",
		env: func(root string) []string {
			return []string{"NB_RESULTS=" + filepath.Join(root, "results", "fig6-grid-quick")}
		},
		expected: []string{
			"plain44   ours       658586   1500",
			"resnet110 pytorch   1727962   1500",
			"Figure 6:",
			"resnet110 109 layers, ",
			"layer responses:",
		}},
	// Asked to, it makes a fresh sweep of its own and reads that.
	{notebook: "03_degradation", variant: "fresh",
		env: func(string) []string { return []string{"NB_FRESH=1"} },
		expected: []string{
			"making a fresh sweep in",
			"reading 1 sweeps:",
			"plain56   ours       853018      3     1",
			"resnet20  1 seeds: training error",
			"Figure 6:",
			"plain20    19 layers, 1 seeds: mean response std",
			"layer responses:",
		}},
}

// maxOutputBytes bounds the outputs a committed notebook may carry.
const maxOutputBytes = 20 << 10

// notebook is the part of an .ipynb file the test reads.
type notebook struct {
	Cells []struct {
		CellType string            `json:"cell_type"`
		Source   source            `json:"source"`
		Outputs  []json.RawMessage `json:"outputs"`
	} `json:"cells"`
	Metadata struct {
		Kernelspec struct {
			Name, Language string
		} `json:"kernelspec"`
		LanguageInfo struct {
			Name string `json:"name"`
		} `json:"language_info"`
	} `json:"metadata"`
	NBFormat int `json:"nbformat"`
}

// source is a cell's text: nbformat allows a string or a list of lines.
type source string

func (s *source) UnmarshalJSON(b []byte) error {
	var lines []string
	if err := json.Unmarshal(b, &lines); err == nil {
		*s = source(strings.Join(lines, ""))
		return nil
	}
	var str string
	err := json.Unmarshal(b, &str)
	*s = source(str)
	return err
}

// readNotebook parses path and checks its metadata and outputs.
func readNotebook(path string) (*notebook, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var nb notebook
	if err := json.Unmarshal(b, &nb); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if nb.NBFormat != 4 {
		return nil, fmt.Errorf("%s: nbformat %d, want 4", path, nb.NBFormat)
	}
	if k := nb.Metadata.Kernelspec; k.Name != "gonb" || k.Language != "go" || nb.Metadata.LanguageInfo.Name != "go" {
		return nil, fmt.Errorf("%s: kernel %+v, language %q: want GoNB's (gonb, go)", path, k, nb.Metadata.LanguageInfo.Name)
	}
	size := 0
	for _, c := range nb.Cells {
		for _, o := range c.Outputs {
			size += len(o)
		}
	}
	if size > maxOutputBytes {
		return nil, fmt.Errorf("%s: %d bytes of committed outputs, want at most %d (clear them)", path, size, maxOutputBytes)
	}
	return &nb, nil
}

// program assembles a notebook's Go cells into one program, as GoNB would
// run them one after another (see the package documentation).
func program(name string, nb *notebook) ([]byte, error) {
	imports := map[string]bool{} // `name "path"` or `"path"`
	var decls, bodies []string
	fset := token.NewFileSet()
	for i, c := range nb.Cells {
		if c.CellType != "code" {
			continue
		}
		cell := fmt.Sprintf("%s cell %d", name, i+1)
		src := strings.TrimLeft(string(c.Source), "\n")
		if strings.HasPrefix(src, "// notebook-only") {
			continue
		}
		lines := strings.Split(src, "\n")
		split := -1
		for j, l := range lines {
			t := strings.TrimSpace(l)
			switch {
			case t == "%%":
				if split >= 0 {
					return nil, fmt.Errorf("%s: two %%%% lines", cell)
				}
				split = j
			case strings.HasPrefix(t, "%") || strings.HasPrefix(t, "!"):
				return nil, fmt.Errorf("%s, line %d: GoNB special command %q outside a notebook-only cell", cell, j+1, t)
			}
		}
		declSrc := src
		if split >= 0 {
			declSrc = strings.Join(lines[:split], "\n")
			bodies = append(bodies, fmt.Sprintf("// %s\nfunc() {\n%s\n}()\n", cell, strings.Join(lines[split+1:], "\n")))
		}
		text := "package main\n" + declSrc
		f, err := parser.ParseFile(fset, cell, text, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("%s: declarations: %v", cell, err)
		}
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.IMPORT {
				for _, s := range g.Specs {
					is := s.(*ast.ImportSpec)
					key := is.Path.Value
					if is.Name != nil {
						key = is.Name.Name + " " + key
					}
					imports[key] = true
				}
				continue
			}
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == "main" {
				return nil, fmt.Errorf("%s: declares func main; use a %%%% cell", cell)
			}
			start := d.Pos()
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Doc != nil {
					start = d.Doc.Pos()
				}
			case *ast.GenDecl:
				if d.Doc != nil {
					start = d.Doc.Pos()
				}
			}
			from, to := fset.Position(start).Offset, fset.Position(d.End()).Offset
			decls = append(decls, fmt.Sprintf("// %s\n%s\n", cell, text[from:to]))
		}
	}
	if len(bodies) == 0 {
		return nil, fmt.Errorf("%s: no %%%% cell to run", name)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated from %s.ipynb by notebooks_test.go. DO NOT EDIT.\n\npackage main\n\nimport (\n", name)
	keys := make([]string, 0, len(imports))
	for k := range imports {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString(k + "\n")
	}
	b.WriteString(")\n\n")
	for _, d := range decls {
		b.WriteString(d + "\n")
	}
	b.WriteString("func main() {\n")
	for _, body := range bodies {
		b.WriteString(body)
	}
	b.WriteString("}\n")
	out, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%s: assembled program: %v\n%s", name, err, numbered(b.String()))
	}
	return out, nil
}

// numbered prefixes each line of s with its number, for error messages.
func numbered(s string) string {
	var b strings.Builder
	for i, l := range strings.Split(s, "\n") {
		fmt.Fprintf(&b, "%4d  %s\n", i+1, l)
	}
	return b.String()
}

// moduleRoot returns the directory holding go.mod above the working directory.
func moduleRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// cifarData returns the real CIFAR-10 when the machine has it ($CIFAR10_DATA,
// else the shared archive of the project's machines), else a tiny synthetic
// data set in the official layout written under dir.
func cifarData(t *testing.T, root, dir string) string {
	for _, real := range []string{os.Getenv("CIFAR10_DATA"), filepath.Join(root, "..", "shared", "cifar10", "cifar-10-binary.tar.gz")} {
		if _, err := os.Stat(real); real != "" && err == nil {
			t.Logf("CIFAR-10: %s", real)
			return real
		}
	}
	d := filepath.Join(dir, "cifar-10-batches-bin")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	const imageLen, perBatch = 3072, 64
	x := uint32(7)
	write := func(name string, first int) {
		var data []byte
		for i := range perBatch {
			data = append(data, byte((first+i)%10))
			for range imageLen {
				x = x*1664525 + 1013904223
				data = append(data, byte(x>>24))
			}
		}
		if err := os.WriteFile(filepath.Join(d, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for b := 1; b <= 5; b++ {
		write(fmt.Sprintf("data_batch_%d.bin", b), perBatch*(b-1))
	}
	write("test_batch.bin", 0)
	meta := "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n"
	if err := os.WriteFile(filepath.Join(d, "batches.meta.txt"), []byte(meta), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("CIFAR-10: shared archive absent; synthetic data set of %d+%d images in %s", 5*perBatch, perBatch, d)
	return d
}

// TestNotebooks builds every notebook as a Go program and runs it with small
// settings.
func TestNotebooks(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the notebooks are built and run only in a full test")
	}
	paths, err := filepath.Glob("*.ipynb")
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, p := range paths {
		found[strings.TrimSuffix(p, ".ipynb")] = true
	}
	ran := map[string]bool{}
	for _, r := range runs {
		if !found[r.notebook] {
			t.Errorf("no notebook %s.ipynb to run", r.notebook)
		}
		ran[r.notebook] = true
	}
	for nb := range found {
		if !ran[nb] {
			t.Errorf("%s.ipynb has no run in runs", nb)
		}
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command: %v", err)
	}
	root := moduleRoot(t)

	// Inside the module, so the programs use its go.mod; "_" keeps ./... away.
	build, err := os.MkdirTemp(".", "_nbrun-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(build)
	var names, pkgs []string
	for _, p := range paths {
		name := strings.TrimSuffix(p, ".ipynb")
		nb, err := readNotebook(p)
		if err != nil {
			t.Fatal(err)
		}
		src, err := program(name, nb)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(build, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "main.go"), src, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
		pkgs = append(pkgs, "./"+filepath.ToSlash(dir))
	}

	bin, err := filepath.Abs(filepath.Join(build, "bin"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cmd := exec.Command(goBin, append([]string{"build", "-o", bin + string(filepath.Separator)}, pkgs...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build of the notebooks' programs (in %s, removed after the test; the line numbers are the assembled programs'): %v\n%s", build, err, out)
	}
	t.Logf("built %d notebooks in %.1fs", len(names), time.Since(start).Seconds())

	tmp := t.TempDir()
	data := cifarData(t, root, tmp)
	for _, r := range runs {
		name := r.notebook
		if r.variant != "" {
			name += "/" + r.variant
		}
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(tmp, "out-"+strings.ReplaceAll(name, "/", "-"))
			var env []string // the user's own NB_* settings would change the runs
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "NB_") && !strings.HasPrefix(kv, "CIFAR10_DATA=") {
					env = append(env, kv)
				}
			}
			env = append(env,
				"NB_SMALL=1", "NB_ITERS=3", "NB_TRAIN_LIMIT=256",
				"NB_OUT="+out,
				"CIFAR10_DATA="+data,
			)
			if r.env != nil {
				env = append(env, r.env(root)...)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, filepath.Join(bin, r.notebook))
			cmd.Env, cmd.Dir = env, t.TempDir()
			start := time.Now()
			b, err := cmd.CombinedOutput()
			t.Logf("%s ran in %.1fs", name, time.Since(start).Seconds())
			if err != nil {
				t.Fatalf("%s: %v\n%s", name, err, b)
			}
			for _, want := range r.expected {
				if !bytes.Contains(b, []byte(want)) {
					t.Errorf("%s: output lacks %s\n%s", name, strconv.Quote(want), b)
				}
			}
			if testing.Verbose() {
				t.Logf("output of %s:\n%s", name, b)
			}
		})
	}
}

// TestProgramAssembly checks the cell convention on a small notebook.
func TestProgramAssembly(t *testing.T) {
	var nb notebook
	err := json.Unmarshal([]byte(`{"nbformat": 4, "cells": [
		{"cell_type": "markdown", "source": "# title"},
		{"cell_type": "code", "source": ["// notebook-only: GoNB setup\n", "!*go work init\n", "%goworkfix"]},
		{"cell_type": "code", "source": "import (\n\t\"fmt\"\n\t\"os\"\n)"},
		{"cell_type": "code", "source": "import \"fmt\"\n\n// two doubles.\nfunc two(x int) int { return 2 * x }\n\n%%\nx := two(1)\nfmt.Println(x)"},
		{"cell_type": "code", "source": "%%\nx := two(2)\nfmt.Fprintln(os.Stdout, x)"}
	]}`), &nb)
	if err != nil {
		t.Fatal(err)
	}
	src, err := program("t", &nb)
	if err != nil {
		t.Fatal(err)
	}
	got := string(src)
	for _, want := range []string{"import (\n\t\"fmt\"\n\t\"os\"\n)", "// two doubles.\nfunc two(", "func main() {\n\t// t cell 4\n\tfunc() {\n\t\tx := two(1)", "// t cell 5\n\tfunc() {\n\t\tx := two(2)"} {
		if !strings.Contains(got, want) {
			t.Errorf("assembled program lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "goworkfix") {
		t.Errorf("notebook-only cell was kept:\n%s", got)
	}

	nb.Cells[1].Source = "!ls"
	if _, err := program("t", &nb); err == nil || !strings.Contains(err.Error(), "special command") {
		t.Errorf("a GoNB command outside a notebook-only cell: err %v", err)
	}
}
