// The R1 pipeline's language-consistency reward, in miniature. DeepSeek-R1 added to the accuracy
// reward, during reasoning-oriented RL, "the proportion of target-language words in the CoT",
// because RL alone drifted into mixing languages. Here the target language is the readable trace
// vocabulary of the cold-start data (tasks/cold-start.ts): the words READABLE_WORDS plus equations
// and numbers. The other "languages" a policy can drift into are the terse R1-Zero words its base
// was pretrained on (chk, yes, no, none, ";"-joined chains) and garbage letters from the prompt.
//
//     consistency(completion) = (characters of the think text's words that are in the vocabulary)
//                               / (characters of all its words)              in [0, 1]
//
// Words are split on whitespace and one trailing "." (sentence end) is dropped before the look-up
// (it still counts as in-language). No think text, or an empty one, scores 0. null for examples
// that are not from a synthetic task. Like R1's, it rewards the language, not the content:
// "first 2+2=5. so the answer is 5." scores 1. A mixed trace such as
// "first 1+2=3. chk 3-2=1 ok. so the answer is 3." scores about 0.9 (the "chk" is off-language).
import { isReadableWord } from "../tasks/cold-start.ts";
import { parseCompletion } from "../tasks/format.ts";
import { taskForExample } from "../tasks/registry.ts";
import type { RewardFn } from "./rewards.ts";

/** Share of the characters of `think`'s words that are in the readable vocabulary (0 for empty text). */
export function consistencyShare(
  think: string,
  inVocabulary: (word: string) => boolean = isReadableWord,
): number {
  let inside = 0;
  let total = 0;
  for (const w of think.split(/\s+/)) {
    if (w === "") continue;
    total += w.length;
    const bare = w.endsWith(".") ? w.slice(0, -1) : w;
    if (bare === "" || inVocabulary(bare)) inside += w.length;
  }
  return total === 0 ? 0 : inside / total;
}

/** The reward: consistencyShare of the completion's think text (see the header). */
export const readableConsistencyReward: RewardFn = (completion, example) => {
  if (!taskForExample(example)) return null;
  const think = parseCompletion(completion).think;
  return think === null ? 0 : consistencyShare(think);
};
