// Command urbis-cometbft is an Urbis department's CometBFT node.
//
// It is CometBFT v0.38 used as a library, as chains built on CometBFT ship
// their own node binary. The only difference from the stock `cometbft`
// binary: the node's four ABCI connections (consensus, mempool, query,
// snapshot) to a socket app use Urbis's client (client.go) instead of
// CometBFT's, whose flush timer spins under load (see
// urbis/consensus/cometbft/README.md). Every command and every config.toml
// setting is CometBFT's own.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	abcicli "github.com/cometbft/cometbft/abci/client"
	cmd "github.com/cometbft/cometbft/cmd/cometbft/commands"
	cfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/libs/cli"
	"github.com/cometbft/cometbft/libs/log"
	nm "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
)

// clientCreator gives each ABCI connection its own Client.
type clientCreator struct {
	addr string
}

func (c clientCreator) NewABCIClient() (abcicli.Client, error) {
	return NewClient(c.addr, false), nil
}

// clientCreatorFor uses Urbis's client for a socket app at tcp:// or unix://
// and CometBFT's default otherwise (an in-process kvstore, for comparison).
func clientCreatorFor(config *cfg.Config) (proxy.ClientCreator, error) {
	socket := strings.HasPrefix(config.ProxyApp, "tcp://") || strings.HasPrefix(config.ProxyApp, "unix://")
	if !socket {
		return proxy.DefaultClientCreator(config.ProxyApp, config.ABCI, config.DBDir()), nil
	}
	if config.ABCI != "socket" {
		return nil, fmt.Errorf("urbis-cometbft speaks ABCI over a socket; config.toml has abci = %q", config.ABCI)
	}
	return clientCreator{addr: config.ProxyApp}, nil
}

// newNode is CometBFT's DefaultNewNode with Urbis's client creator.
func newNode(config *cfg.Config, logger log.Logger) (*nm.Node, error) {
	nodeKey, err := p2p.LoadOrGenNodeKey(config.NodeKeyFile())
	if err != nil {
		return nil, fmt.Errorf("load or generate the node key %s: %w", config.NodeKeyFile(), err)
	}
	creator, err := clientCreatorFor(config)
	if err != nil {
		return nil, err
	}
	return nm.NewNode(config,
		privval.LoadOrGenFilePV(config.PrivValidatorKeyFile(), config.PrivValidatorStateFile()),
		nodeKey,
		creator,
		nm.DefaultGenesisDocProviderFunc(config),
		cfg.DefaultDBProvider,
		nm.DefaultMetricsProvider(config.Instrumentation),
		logger,
	)
}

func main() {
	root := cmd.RootCmd
	root.Use = "urbis-cometbft"
	root.Short = "An Urbis department's CometBFT node (CometBFT v0.38 with Urbis's ABCI client)"
	root.AddCommand(
		cmd.InitFilesCmd,
		cmd.ShowNodeIDCmd,
		cmd.ShowValidatorCmd,
		cmd.GenNodeKeyCmd,
		cmd.GenValidatorCmd,
		cmd.ResetAllCmd,
		cmd.ResetStateCmd,
		cmd.RollbackStateCmd,
		cmd.ReplayCmd,
		cmd.VersionCmd,
		cmd.NewRunNodeCmd(newNode),
	)
	home := os.ExpandEnv(filepath.Join("$HOME", cfg.DefaultTendermintDir))
	if err := cli.PrepareBaseCmd(root, "CMT", home).Execute(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
