/**
 * The exec behaviour tests (exec_behaviour.ts) on a VM booted cold.
 */
import { execBehaviourTests } from "./exec_behaviour.ts";

execBehaviourTests("booted");
