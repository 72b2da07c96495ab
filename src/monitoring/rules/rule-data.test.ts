import { InMemoryRuleData } from "./index.js";
import { describeRuleDataContract } from "./rule-data.contract.js";

describeRuleDataContract("in-memory", (fixture) => new InMemoryRuleData(fixture));
