package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/rtcchat/rtcchat/chat"
	"github.com/rtcchat/rtcchat/handshake"
	"github.com/rtcchat/rtcchat/rtc"
)

func init() { extraCommands = append(extraCommands, newDemoCmd) }

func newDemoCmd() *cobra.Command {
	var fileSize int
	var levelName string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run two peers in this process over loopback and show every layer",
		Long: `demo runs the whole rtcchat flow between two peers, Alice and Bob, inside
this process over the loopback interface: no network or server is needed.
It swaps the offer and answer blobs, connects, runs the handshake, exchanges
messages and a file, and prints what each layer negotiated.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			level, err := handshake.ParseLevel(levelName)
			if err != nil {
				return err
			}
			return runDemo(cmd.Context(), cmd.OutOrStdout(), level, fileSize)
		},
	}
	cmd.Flags().IntVar(&fileSize, "file-size", 8<<20, "size in bytes of the file Alice sends to Bob")
	cmd.Flags().StringVar(&levelName, "level", "quantum", "security level: standard, enhanced or quantum")
	return cmd
}

// demoContacts admits the demo peer under a fixed name, in memory.
type demoContacts struct {
	name string
	mem  map[string][]byte
}

func (d *demoContacts) Admit(*handshake.PublicIdentity) (string, bool, bool, error) {
	return d.name, true, false, nil
}
func (d *demoContacts) MarkVerified(*handshake.PublicIdentity) error { return nil }
func (d *demoContacts) Store(*handshake.PublicIdentity) (chat.Store, error) {
	return memStore(d.mem), nil
}

type memStore map[string][]byte

func (m memStore) Load(kind string) ([]byte, error) { return m[kind], nil }
func (m memStore) Save(kind string, b []byte) error { m[kind] = append([]byte(nil), b...); return nil }
func (m memStore) Delete(kind string) error         { delete(m, kind); return nil }

func runDemo(ctx context.Context, out io.Writer, level handshake.Level, fileSize int) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	start := time.Now()

	say("== identities: Ed25519 + FALCON-1024 (generated fresh for the demo)")
	alice, err := handshake.GenerateIdentity(rand.Reader)
	if err != nil {
		return err
	}
	defer alice.Destroy()
	bob, err := handshake.GenerateIdentity(rand.Reader)
	if err != nil {
		return err
	}
	defer bob.Destroy()
	say("   Alice %s", formatFP(alice.Public()))
	say("   Bob   %s", formatFP(bob.Public()))

	cfgA := chat.Config{RTC: rtc.LoopbackConfig(), Signer: alice, MinLevel: level, Contacts: &demoContacts{name: "Bob", mem: map[string][]byte{}}}
	cfgB := chat.Config{RTC: rtc.LoopbackConfig(), Signer: bob, MinLevel: level, Contacts: &demoContacts{name: "Alice", mem: map[string][]byte{}}}

	say("\n== Alice: rtcchat offer")
	offer, err := chat.NewOffer(ctx, cfgA)
	if err != nil {
		return err
	}
	defer offer.Close()
	say("   offer blob (%d characters), sent to Bob over any channel:\n   %s", len(offer.Blob()), offer.Blob())

	say("\n== Bob: rtcchat answer <blob>")
	answer, err := chat.NewAnswer(ctx, cfgB, offer.Blob())
	if err != nil {
		return err
	}
	defer answer.Close()
	say("   answer blob (%d characters), sent back to Alice:\n   %s", len(answer.Blob()), answer.Blob())

	say("\n== connecting: ICE, DTLS, inner TLS 1.3, hybrid handshake, ratchet")
	t0 := time.Now()
	type res struct {
		c   *chat.Conversation
		err error
	}
	bobCh := make(chan res, 1)
	go func() {
		c, err := answer.Connect(ctx)
		bobCh <- res{c, err}
	}()
	convA, err := offer.Connect(ctx, answer.Blob())
	if err != nil {
		return fmt.Errorf("alice: %w", err)
	}
	defer convA.Close()
	rb := <-bobCh
	if rb.err != nil {
		return fmt.Errorf("bob: %w", rb.err)
	}
	convB := rb.c
	defer convB.Close()
	in := convA.Info()
	say("   secure chat ready in %s", time.Since(t0).Round(time.Millisecond))
	say("   path:      %s", in.Path)
	say("   DTLS:      %s", in.DTLS)
	if in.TLS != "" {
		say("   TLS:       %s", in.TLS)
	} else {
		say("   TLS:       (not used at the standard level)")
	}
	say("   handshake: level %s", in.Level)
	say("   messages:  %s", in.Ratchet)
	say("   session code (read aloud to check): Alice %s, Bob %s", in.SessionCode, convB.Info().SessionCode)
	say("   safety number (compare once per contact):\n%s", indent(in.SafetyNumber, "     "))

	say("\n== messages")
	for i, text := range []string{"Hi Bob! This line is end-to-end encrypted.", "It travels DTLS → TLS 1.3 → Double Ratchet."} {
		id, err := convA.SendText(text)
		if err != nil {
			return err
		}
		if err := expect(ctx, convB, chat.EventMessage, func(ev chat.Event) bool { return ev.ID == id }); err != nil {
			return err
		}
		say("   Alice → Bob: %q", text)
		if err := expect(ctx, convA, chat.EventDelivered, func(ev chat.Event) bool { return ev.ID == id }); err != nil {
			return err
		}
		say("   ✓ delivered (acknowledged by Bob)")
		_ = i
	}
	reply := "Hello Alice, received both."
	id, err := convB.SendText(reply)
	if err != nil {
		return err
	}
	if err := expect(ctx, convA, chat.EventMessage, func(ev chat.Event) bool { return ev.ID == id }); err != nil {
		return err
	}
	say("   Bob → Alice: %q", reply)

	say("\n== file transfer (%s)", humanBytes(uint64(fileSize)))
	dir, err := os.MkdirTemp("", "rtcchat-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	data := make([]byte, fileSize)
	rand.Read(data)
	src := filepath.Join(dir, "holiday-photos.bin")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		return err
	}
	recvDir := filepath.Join(dir, "bob-downloads")
	os.Mkdir(recvDir, 0o700)
	ft := time.Now()
	fid, err := convA.OfferFile(src)
	if err != nil {
		return err
	}
	if err := expect(ctx, convB, chat.EventFileOffered, func(ev chat.Event) bool { return ev.ID == fid }); err != nil {
		return err
	}
	if err := convB.AcceptFile(fid, recvDir); err != nil {
		return err
	}
	var path string
	if err := expect(ctx, convB, chat.EventFileDone, func(ev chat.Event) bool { path = ev.File.Path; return ev.ID == fid }); err != nil {
		return err
	}
	if err := expect(ctx, convA, chat.EventFileDone, func(ev chat.Event) bool { return ev.ID == fid }); err != nil {
		return err
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, data) {
		return fmt.Errorf("demo: the received file differs from the one sent")
	}
	el := time.Since(ft)
	say("   %s received and SHA-256 verified in %s (%.1f MB/s)", filepath.Base(path), el.Round(time.Millisecond), float64(fileSize)/el.Seconds()/1e6)

	say("\n== goodbye")
	convA.Close()
	if err := expect(ctx, convB, chat.EventDisconnected, func(chat.Event) bool { return true }); err != nil {
		return err
	}
	say("   Bob saw Alice leave cleanly. Demo finished in %s.", time.Since(start).Round(time.Millisecond))
	return nil
}

// expect waits for the first event of kind that ok accepts.
func expect(ctx context.Context, c *chat.Conversation, kind chat.EventKind, ok func(chat.Event) bool) error {
	for {
		select {
		case ev := <-c.Events():
			if ev.Kind == kind && ok(ev) {
				return nil
			}
			if ev.Kind == chat.EventDisconnected && kind != chat.EventDisconnected {
				return fmt.Errorf("demo: disconnected while waiting for %s: %v", kind, ev.Err)
			}
			if ev.Kind == chat.EventFileFailed {
				return fmt.Errorf("demo: transfer failed: %v", ev.Err)
			}
		case <-ctx.Done():
			return fmt.Errorf("demo: timed out waiting for %s", kind)
		}
	}
}

func formatFP(p *handshake.PublicIdentity) string {
	fp := p.Fingerprint()
	return fmt.Sprintf("%X", fp[:12]) + "…"
}

func indent(s, prefix string) string {
	var b bytes.Buffer
	for _, l := range bytes.Split([]byte(s), []byte("\n")) {
		b.WriteString(prefix)
		b.Write(l)
		b.WriteString("\n")
	}
	return string(bytes.TrimRight(b.Bytes(), "\n"))
}
