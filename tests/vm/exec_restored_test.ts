/**
 * The exec behaviour tests (exec_behaviour.ts) on a VM restored from the image's template
 * snapshot (made first when missing).
 */
import { execBehaviourTests } from "./exec_behaviour.ts";

execBehaviourTests("restored");
