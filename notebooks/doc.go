// Package notebooks holds the zoo's Jupyter notebooks, written for the GoNB
// kernel (github.com/janpfeifer/gonb), and a test that runs each of them as
// an ordinary Go program, so a notebook that no longer compiles or runs
// fails "go test ./...". The package itself has no API.
//
//	01_residual_blocks.ipynb  BasicBlock and Bottleneck: parameters, DOT picture, F(x) = 0 is the identity
//	02_training.ipynb         a short ResNet-20 run on CIFAR-10 and its curves
//	03_degradation.ipynb      the committed plain-versus-residual sweeps (or a fresh one): Figure 6 and the layer responses
//
// # Running them in Jupyter
//
// Install GoNB, start Jupyter in this directory and run the cells in order.
// The first code cell of every notebook points GoNB's scratch module at this
// repository (go.work plus GoNB's %goworkfix). Settings come from
// environment variables (NB_ITERS, NB_OUT, CIFAR10_DATA, ...), each
// notebook lists its own; set them before starting Jupyter or with GoNB's
// %env. Generated files go to $NB_OUT (default: resnet-notebooks under the
// system's temporary directory), never into this directory.
//
// # Cell convention
//
// GoNB compiles every cell into one program: declarations of earlier cells
// are kept, and the lines after a line holding only "%%" become the body of
// func main. Each execution is a new process, so the notebooks keep to
// these rules, which the test enforces:
//
//   - Markdown cells explain; the test ignores them.
//   - One imports cell near the top holds an import (...) declaration;
//     other cells may add imports, and duplicates are merged.
//   - A code cell without "%%" holds only top-level declarations
//     (func, type, var, const, import). "func main" is never declared.
//   - A code cell with a "%%" line may have declarations before it; the
//     lines after it are a main body. Bodies share nothing but the top-level
//     declarations and the files they write: a body that needs an earlier
//     body's result reads it from disk (a run directory, a .dot file).
//   - A code cell whose first line starts with "// notebook-only" is for
//     GoNB alone (GoNB special commands such as !* and %goworkfix, and the
//     gonbui calls that show a PNG inline); the test skips it. GoNB special
//     commands ("!..." and "%..." lines other than "%%") appear nowhere else.
//
// # The test
//
// TestNotebooks assembles each notebook the way GoNB would: the imports of
// all cells merged into one import declaration, the other declarations at
// top level in cell order, and each "%%" body, in cell order, as a function
// literal called from func main (its own scope, as in its own process). The
// programs are written to a directory "_nbrun-*" inside this package
// (ignored by ./... patterns and removed afterwards), so they compile
// against the repository's go.mod, built with one "go build" and run with
// small settings: NB_SMALL=1 NB_ITERS=3 NB_TRAIN_LIMIT=256, NB_OUT in a
// temporary directory, and CIFAR10_DATA set to the real data when the
// machine has it ($CIFAR10_DATA, else the shared archive
// ../shared/cifar10/cifar-10-binary.tar.gz beside the module root), else to
// a tiny synthetic data set in the official layout that the test writes.
// 03_degradation runs twice: once reading the committed results
// (NB_RESULTS=results/fig6-quick), once making a fresh sweep (NB_FRESH=1).
// Each run's output must hold its expected lines (01: "73728", "69632",
// "identity: true"). The test also checks the kernel metadata and that
// committed outputs stay small.
package notebooks
