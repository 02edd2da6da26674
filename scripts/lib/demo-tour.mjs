// The scripted tour of `npm run demo -- --once`: what a visitor would do in the browser, over HTTP
// against the demo's servers (its own, or those its variables name), printing what happened. It
// never prints a token. Resolves true when every step did what it should; throws (with the step)
// when one did not.
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const root = resolve(import.meta.dirname, "../..");
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

/** The longest the tour waits for a rotation or a refresh ahead; a later one is skipped, saying so. */
export const WATCH_LIMIT_MS = 5 * 60_000;

/**
 * Whether the tour watches for something due at `dueAt` (epoch ms; NaN when unknown): with short
 * lifetimes (the demo's own servers) it is due within seconds; a configured upstream may issue tokens
 * that live an hour. Returns the deadline to give up at (30 s after it was due, at least 60 s from
 * now), or `undefined` when it is due beyond `WATCH_LIMIT_MS`.
 */
export function watchDeadline(dueAt, now = Date.now()) {
  if (Number.isNaN(dueAt)) return now + 60_000;
  if (dueAt - now > WATCH_LIMIT_MS) return undefined;
  return Math.max(now + 60_000, dueAt + 30_000);
}

const inMinutes = (ms) => `${Math.round(ms / 60_000)} min`;

/** A browser-like client: a cookie jar, same-origin form posts, no redirects followed. */
function browser(base, jar = new Map()) {
  const keep = (response) => {
    for (const header of response.headers.getSetCookie()) {
      const [pair] = header.split(";");
      const index = pair.indexOf("=");
      const name = pair.slice(0, index);
      const value = pair.slice(index + 1);
      if (value === "" || value === "deleted" || /Max-Age=0|Expires=Thu, 01 Jan 1970/i.test(header))
        jar.delete(name);
      else jar.set(name, value);
    }
    return response;
  };
  const headers = () => ({
    accept: "text/html",
    cookie: [...jar].map(([name, value]) => `${name}=${value}`).join("; "),
  });
  return {
    jar,
    signedIn: () => jar.size > 0,
    get: async (path) => {
      const response = keep(await fetch(`${base}${path}`, { headers: headers(), redirect: "manual" }));
      return {
        status: response.status,
        location: response.headers.get("location"),
        html: await response.text(),
      };
    },
    post: async (path, fields) => {
      const response = keep(
        await fetch(`${base}${path}`, {
          method: "POST",
          headers: { ...headers(), origin: base, "sec-fetch-site": "same-origin" },
          body: new URLSearchParams(fields),
          redirect: "manual",
        }),
      );
      return {
        status: response.status,
        location: response.headers.get("location"),
        html: await response.text(),
      };
    },
  };
}

const field = (html, id) => new RegExp(`id="${id}"[^>]*>([^<]*)<`).exec(html)?.[1];
const check = (condition, what) => {
  if (!condition) throw new Error(what);
};

export async function tour({ siteUrl, secondUrl, backendStatus, user, password, local, log }) {
  const site = browser(siteUrl);

  // 1. Sign in through the form (an Astro Action calling locals.tokenkeep.login()).
  if (user !== undefined) {
    const form = await site.get("/login?returnTo=/account/session");
    const action = /<form method="post" action="([^"]+)"/.exec(form.html)?.[1]?.replaceAll("&amp;", "&");
    check(action, "the sign-in page has no form");
    const signIn = await site.post(action, { username: user, password });
    check(
      signIn.status === 303 && site.signedIn(),
      `signing in answered ${signIn.status}, no session cookie`,
    );
    log(`signed in as ${user}: ${signIn.status} to ${signIn.location}, session in a sealed HttpOnly cookie`);

    // 2. Watch the session page until the middleware has rotated the tokens once.
    const first = await site.get("/account/session");
    check(first.status === 200, `the session page answered ${first.status}`);
    const expiresBefore = field(first.html, "expires");
    log(
      `session: access token expires ${expiresBefore}, refresh due from ${field(first.html, "refresh-due")}`,
    );
    const due = Date.parse(field(first.html, "refresh-due") ?? "");
    const deadline = watchDeadline(due);
    if (deadline === undefined) {
      log(
        `rotation not watched: the refresh is due in ${inMinutes(due - Date.now())} (the tour waits at most ${inMinutes(WATCH_LIMIT_MS)}); run the demo without --once to see it`,
      );
    } else {
      const started = Date.now();
      let page = first;
      while (Number(field(page.html, "rotations")) < 1) {
        check(
          Date.now() < deadline,
          `no rotation within ${((deadline - started) / 1000).toFixed(0)} s (refresh due from ${field(first.html, "refresh-due")})`,
        );
        await sleep(250);
        page = await site.get("/account/session");
        check(page.status === 200, `the session page answered ${page.status} while waiting for a rotation`);
      }
      const expiresAfter = field(page.html, "expires");
      check(expiresAfter !== expiresBefore, "the rotation did not move the expiry");
      log(
        `rotated after ${((Date.now() - started) / 1000).toFixed(1)} s: expires ${expiresAfter} now; rotations ${field(page.html, "rotations")}, successor hits ${field(page.html, "successor-hits")}`,
      );
    }
    const profile = await site.get("/account/profile");
    const name = /id="profile"[^>]*>Hello, ([^<]*?) \(/.exec(profile.html)?.[1];
    check(name, "the profile page did not greet the user");
    log(`profile read from the API with the session's access token: Hello, ${name}`);

    // 2b. With Redis: the same cookie at both instances once a rotation is due: one redeems the
    // refresh token, the other is served by that rotation through the shared store.
    if (secondUrl !== undefined) {
      const other = browser(secondUrl, site.jar);
      // What /account/shared shows: a row per instance (this one's counters and its peer's), the
      // refresh tokens it redeemed and the requests served by the other's rotation.
      const counters = async () => {
        const page = await site.get("/account/shared");
        check(page.status === 200, `/account/shared answered ${page.status}`);
        const rows = [
          ...page.html.matchAll(
            /<tr data-instance="([^"]+)"[^>]*>\s*<td[^>]*>[^<]*<\/td>\s*<td class="redeemed"[^>]*>(\d+)<\/td>\s*<td class="successor-hits"[^>]*>(\d+)</g,
          ),
        ];
        check(rows.length === 2, `/account/shared shows ${rows.length} instances, not 2`);
        return {
          redeemed: rows.reduce((sum, row) => sum + Number(row[2]), 0),
          served: rows.reduce((sum, row) => sum + Number(row[3]), 0),
        };
      };
      const sharedDue = Date.parse(field((await site.get("/account/session")).html, "refresh-due") ?? "");
      if (watchDeadline(sharedDue) === undefined) {
        log(
          `the shared rotation not watched: the next refresh is due in ${inMinutes(sharedDue - Date.now())}`,
        );
      } else {
        const before = await counters();
        await sleep(Math.max(0, sharedDue - Date.now()) + 100);
        const answers = await Promise.all([site.get("/account/session"), other.get("/account/session")]);
        check(
          answers.every((answer) => answer.status === 200),
          "an instance refused the shared session",
        );
        const after = await counters();
        check(
          after.redeemed - before.redeemed === 1,
          `${after.redeemed - before.redeemed} redemptions, not 1`,
        );
        check(
          after.served - before.served === 1,
          "the other instance was not served the first one's rotation",
        );
        log(
          "two instances on one Redis, the same cookie at both: 1 refresh token redeemed, the other served by it (as /account/shared shows)",
        );
      }
    }

    // 3. Personal access tokens through @tokenkeep/pat-client on the admin page.
    const owner = `tour-${Date.now()}@example.com`;
    const issued = await site.post("/admin/tokens", { op: "issue", owner });
    check(issued.status === 200 && field(issued.html, "issued") !== undefined, "issuing a PAT failed");
    const row = new RegExp(
      `data-token-id="([^"]+)"><td>[^<]*</td><td>${owner.replace(".", "\\.")}</td>`,
    ).exec(issued.html);
    check(row, "the issued PAT is not listed");
    const tokenId = row[1];
    const state = (html) =>
      new RegExp(`data-token-id="${tokenId}">.*?<td class="state"[^>]*>([a-z]+)<`, "s").exec(html)?.[1];
    const revoked = await site.post("/admin/tokens", { op: "revoke", tokenId });
    check(state(revoked.html) === "revoked", "revoking the PAT did not show it revoked");
    const restored = await site.post("/admin/tokens", { op: "restore", tokenId });
    check(state(restored.html) === "active", "restoring the PAT did not show it active");
    log(`PAT ${tokenId} issued for ${owner} (shown once on the page), revoked, restored`);

    // 4. Sign out: upstream revocation, cookie cleared.
    const out = await site.post("/_tokenkeep/logout", {});
    const after = await site.get("/account/session");
    check(
      after.status >= 300 && after.status < 400,
      `the session page answered ${after.status} after sign-out`,
    );
    log(`signed out (${out.status}); /account/session now redirects to ${after.location}`);
  } else {
    log("sign-in, rotation and PATs skipped: AUTH_ISSUER is set, DEMO_USER and DEMO_PASSWORD are not");
  }

  // 5. The robot credentials grant from @tokenkeep/grants against the same authorization server.
  if (local !== undefined) {
    const require = createRequire(join(root, "examples/node-backend/package.json"));
    const { robotGrant } = await import(pathToFileURL(require.resolve("@tokenkeep/grants")).href);
    const creator = robotGrant({
      issuer: local.issuer,
      clientId: local.robot.clientId,
      clientAuthentication: "none",
      id: local.robot.id,
      secret: local.robot.secret,
    });
    const tokenSet = await creator({ signal: AbortSignal.timeout(10_000) });
    const answer = await fetch(`${local.apiUrl}/reports`, {
      headers: { authorization: `Bearer ${tokenSet.accessToken}` },
    });
    check(answer.status === 200, `the API answered the robot's token with ${answer.status}`);
    log(`robot credentials grant: a token for ${local.robot.id}, the API answered ${answer.status}`);
  } else {
    log("robot credentials grant skipped: no local authorization server");
  }

  // 6. The Node backend's counters: calls through createAuthFetch, one refreshed ahead at least
  // (the backend refreshes at half its tokens' lifetime: within seconds on the demo's own server).
  const started = Date.now();
  let counters;
  // Until the first token arrives: 60 s; then as long as its refresh ahead may take.
  let deadline = started + 60_000;
  let watchRefresh; // undefined until the first token's expiry is known
  for (;;) {
    ({ counters } = await (await fetch(backendStatus)).json());
    if (watchRefresh === undefined && counters.tokenExpiresAt !== undefined) {
      const limit = watchDeadline(counters.tokenExpiresAt);
      watchRefresh = limit !== undefined;
      if (watchRefresh) deadline = limit;
      else
        log(
          `the backend's refresh ahead not watched: its token expires in ${inMinutes(counters.tokenExpiresAt - Date.now())}`,
        );
    }
    if (
      counters.fetches >= 3 &&
      counters.cacheHits >= 1 &&
      (counters.refreshAhead >= 1 || watchRefresh === false)
    )
      break;
    check(
      Date.now() < deadline,
      watchRefresh !== false
        ? `the backend refreshed no token ahead within ${((deadline - started) / 1000).toFixed(0)} s`
        : "the backend made fewer than 3 API calls within 60 s",
    );
    await sleep(250);
  }
  check(counters.ok === counters.fetches, "backend API calls failed");
  log(
    `backend: ${counters.fetches} API calls (${counters.ok} ok), ${counters.cacheHits} tokens from the cache, ${counters.tokenFetches} token requests of which ${counters.refreshAhead} refreshed ahead, ${counters.retries} retries`,
  );
  const page = await site.get("/backend");
  check(field(page.html, "fetches") !== undefined, "the /backend page shows no counters");
  log(`/backend shows the same counters (API calls: ${field(page.html, "fetches")})`);
  return true;
}
