package experiment_test

import (
	"fmt"
	"log"

	"github.com/gorgonia-zoo/resnet/experiment"
)

// The short Figure 6 grid, and the runs that the third of four cluster
// jobs makes (JOB_COMPLETION_INDEX=2 of completions 4).
func ExamplePreset() {
	grid, err := experiment.Preset("fig6-grid-quick")
	if err != nil {
		log.Fatal(err)
	}
	shard, err := experiment.ParseShard("2/4")
	if err != nil {
		log.Fatal(err)
	}
	for i, c := range grid.Runs {
		mine := ""
		if shard.Has(i) {
			mine = "  <- " + shard.String()
		}
		fmt.Printf("%-9s %d iterations, learning rate /10 at %v%s\n", c.Model, c.Iters, c.Milestones, mine)
	}
	// Output:
	// plain20   1500 iterations, learning rate /10 at [750 1125]
	// plain32   1500 iterations, learning rate /10 at [750 1125]
	// plain44   1500 iterations, learning rate /10 at [750 1125]  <- shard 2/4
	// plain56   1500 iterations, learning rate /10 at [750 1125]
	// resnet20  1500 iterations, learning rate /10 at [750 1125]
	// resnet32  1500 iterations, learning rate /10 at [750 1125]
	// resnet44  1500 iterations, learning rate /10 at [750 1125]  <- shard 2/4
	// resnet56  1500 iterations, learning rate /10 at [750 1125]
	// resnet110 1500 iterations, learning rate /10 at [750 1125]
}
