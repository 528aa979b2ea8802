// Before anything else: a token, pasted once. The form is never submitted anywhere (no URL ever
// carries the token): the page checks it with GET /v1/whoami and keeps it in sessionStorage.
import { fill, h, withCode } from "../dom.ts";
import { problem } from "../problems.ts";
import { type Session, signIn } from "../session.ts";

export function signInView(main: HTMLElement, signedIn: (session: Session) => void, failure?: unknown): void {
  const problems = h("div", { class: "problems" }, failure === undefined ? null : problem(failure));
  const input = h("input", {
    id: "token",
    name: "token",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-describedby": "token-hint",
  });
  const submit = h("button", { type: "submit" }, "Sign in");
  const form = h(
    "form",
    { class: "sign-in", "aria-labelledby": "sign-in-heading" },
    h("h1", { id: "sign-in-heading" }, "Sign in"),
    h("label", { for: "token" }, "Bearer token"),
    input,
    h(
      "p",
      { id: "token-hint", class: "hint" },
      ...withCode(
        "A token from `AUTH_TOKENS` with `runs:read` (`npm run dev` writes one to `.theory/token`). It stays in this tab until you sign out or close it.",
      ),
    ),
    submit,
    problems,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    fill(problems);
    try {
      const session = await signIn(input.value);
      input.value = "";
      signedIn(session);
    } catch (error) {
      fill(problems, problem(error, "Sign-in failed"));
      submit.disabled = false;
      input.focus();
    }
  });
  fill(main, form);
  input.focus();
}
