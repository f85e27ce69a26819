package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/protect"
)

// keysCmd groups the keyring commands. They print key ids, never key material.
type keysCmd struct {
	Generate keysGenerateCmd `cmd:"" name:"generate" help:"Write a new keyring with one HMAC and one AES-256 key (refuses to overwrite unless --force)."`
	Rotate   keysRotateCmd   `cmd:"" name:"rotate" help:"Add new active keys to the keyring; old keys stay so older files remain readable."`
}

type keysGenerateCmd struct {
	config.DataDir
	config.Keyring
	Out   string `name:"out" help:"Where to write the keyring. Default: --keyring, else <data-dir>/keyring.json."`
	Force bool   `name:"force" help:"Replace an existing keyring. Values sealed under its keys become unreadable and pseudonyms change."`

	stdout io.Writer
}

func (c *keysGenerateCmd) Run(ctx context.Context) error {
	path := c.Out
	if path == "" {
		path = c.Resolve(c.DataDir)
	}
	k, err := protect.GenerateKeyring()
	if err != nil {
		return err
	}
	if c.Force {
		err = k.Save(path)
	} else {
		err = k.SaveNew(path)
	}
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("keyring %s already exists; use 'logetl keys rotate' to add keys, or --force to replace it (files sealed under it become unreadable)", path)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(writerOr(c.stdout), "wrote keyring %s: active hmac key %s, active aead key %s\n", path, k.ActiveHMACKeyID(), k.ActiveAEADKeyID())
	return nil
}

type keysRotateCmd struct {
	config.DataDir
	config.Keyring
	Kind string `name:"kind" enum:"both,aead,hmac" default:"both" help:"Which keys to rotate: both, aead (encryption only; pseudonyms stay the same) or hmac (pseudonyms change)."`

	stdout io.Writer
}

func (c *keysRotateCmd) Run(ctx context.Context) error {
	path := c.Resolve(c.DataDir)
	k, err := protect.LoadKeyring(path)
	if err != nil {
		return err
	}
	prevHMAC, prevAEAD := k.ActiveHMACKeyID(), k.ActiveAEADKeyID()
	switch c.Kind {
	case "aead":
		err = k.RotateAEAD()
	case "hmac":
		err = k.RotateHMAC()
	default:
		err = k.Rotate()
	}
	if err != nil {
		return err
	}
	if err := k.Save(path); err != nil {
		return err
	}
	out := writerOr(c.stdout)
	fmt.Fprintf(out, "rotated keyring %s: active hmac key %s (was %s), active aead key %s (was %s)\n",
		path, k.ActiveHMACKeyID(), prevHMAC, k.ActiveAEADKeyID(), prevAEAD)
	fmt.Fprintf(out, "keys held: hmac %s; aead %s\n", strings.Join(k.HMACKeyIDs(), ","), strings.Join(k.AEADKeyIDs(), ","))
	return nil
}

// writerOr returns w, or standard output when w is nil (tests set w).
func writerOr(w io.Writer) io.Writer {
	if w == nil {
		return os.Stdout
	}
	return w
}
