package botclient

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// BotPassword is the password of every bot account, as with the bot this project replaces.
// Bot accounts hold no real data; the password only lets bots log in again.
const BotPassword = "iambot4084"

// BotEmail is the address of bot number i.
func BotEmail(i int) string { return fmt.Sprintf("bot%d@bot.com", i) }

// maxSignupProbes bounds the search for a free bot number when the user count under-counts
// existing bots (e.g. some bots withdrew).
const maxSignupProbes = 50

// SignupBot creates the next bot account: number = current user count + 1, moving on while that
// email or nickname is taken. It returns the new bot's number i (its email is BotEmail(i)): the
// number names the bot in results and errors that end up in Temporal history, the address does
// not.
func (c *Client) SignupBot(ctx context.Context, now time.Time) (int, error) {
	stats, err := c.GenderStats(ctx)
	if err != nil {
		return 0, fmt.Errorf("bot signup: count users: %w", err)
	}
	first := stats.Male + stats.Female + 1
	for i := first; i < first+maxSignupProbes; i++ {
		gender := "M"
		if i%2 == 0 {
			gender = "F"
		}
		_, err := c.Signup(ctx, SignupRequest{
			Email: BotEmail(i), Nickname: fmt.Sprintf("bot%d", i), Gender: gender,
			Password: BotPassword, Password2: BotPassword,
			Name: fmt.Sprintf("봇%d", i), BirthDate: now.UTC().Format(time.DateOnly),
		})
		if err == nil {
			return i, nil
		}
		if StatusOf(err) == http.StatusBadRequest && taken(err) {
			continue
		}
		return 0, fmt.Errorf("bot signup: bot %d: %w", i, err)
	}
	return 0, fmt.Errorf("bot signup: bots %d..%d are all taken", first, first+maxSignupProbes-1)
}

// taken tells whether a 400 complains about the email or nickname (uniqueness), as opposed to
// some other validation failure that trying another number cannot fix.
func taken(err error) bool {
	var e *APIError
	if !asAPIError(err, &e) {
		return false
	}
	return strings.Contains(e.Body, `"email"`) || strings.Contains(e.Body, `"nickname"`)
}

// Session is what one bot session did. It names the bot by number, never by address, because
// it is reported into Temporal history.
type Session struct {
	Bot     int  // the bot's number (email BotEmail(Bot)); 0 when there was no account to pick
	Skipped bool // the chosen account could not log in (withdrawn, or not a bot)
	Actions int  // API calls that succeeded, login included
}

// titles and bodies are the Korean posts bots write, like the bot this project replaces.
var (
	titles = []string{"오늘의 일기", "점심 메뉴 추천", "주말 여행 후기", "새로 읽은 책", "운동 기록", "카페 탐방", "코딩 공부 중", "날씨가 좋네요"}
	bodies = []string{
		"안녕하세요! 봇이 작성한 글입니다. 오늘도 좋은 하루 보내세요.",
		"김치찌개와 된장찌개 중에 고민하다가 결국 비빔밥을 먹었습니다.",
		"부산 해운대에 다녀왔어요. 바다가 정말 예뻤습니다.",
		"데이터 파이프라인에 관한 책을 읽었습니다. 파티셔닝이 중요하네요.",
		"오늘은 5킬로미터를 달렸습니다. 내일은 더 멀리!",
		"한강 근처 카페에서 라떼를 마셨어요. 분위기가 좋았습니다.",
	}
)

// RunSession logs in a random existing bot and, as that bot, creates a post, updates it, views
// it and deletes it. rnd picks the bot and the texts. A bot that cannot log in (401) is skipped.
// Tokens, the password and the bot's email stay inside this call: neither the Session nor an
// error names them.
func (c *Client) RunSession(ctx context.Context, rnd *rand.Rand) (Session, error) {
	stats, err := c.GenderStats(ctx)
	if err != nil {
		return Session{}, fmt.Errorf("bot session: count users: %w", err)
	}
	n := stats.Male + stats.Female
	if n == 0 {
		return Session{Skipped: true}, nil
	}
	s := Session{Bot: 1 + rnd.IntN(n)}
	tok, err := c.Login(ctx, BotEmail(s.Bot), BotPassword)
	if err != nil {
		if StatusOf(err) == http.StatusUnauthorized {
			s.Skipped = true
			return s, nil
		}
		return s, fmt.Errorf("bot session: bot %d: login: %w", s.Bot, err)
	}
	s.Actions++
	post, err := c.CreatePost(ctx, tok.Access, pick(rnd, titles), pick(rnd, bodies))
	if err != nil {
		return s, fmt.Errorf("bot session: bot %d: create post: %w", s.Bot, err)
	}
	s.Actions++
	if _, err := c.UpdatePost(ctx, tok.Access, post.ID, pick(rnd, titles)+" (수정됨)", pick(rnd, bodies)); err != nil {
		return s, fmt.Errorf("bot session: bot %d: update post %d: %w", s.Bot, post.ID, err)
	}
	s.Actions++
	if _, err := c.GetPost(ctx, post.ID); err != nil {
		return s, fmt.Errorf("bot session: bot %d: view post %d: %w", s.Bot, post.ID, err)
	}
	s.Actions++
	if err := c.DeletePost(ctx, tok.Access, post.ID); err != nil {
		return s, fmt.Errorf("bot session: bot %d: delete post %d: %w", s.Bot, post.ID, err)
	}
	s.Actions++
	return s, nil
}

func pick(rnd *rand.Rand, xs []string) string { return xs[rnd.IntN(len(xs))] }
