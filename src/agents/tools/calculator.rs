//! `calculator`: a safe arithmetic evaluator and FinQA's program language, so that derived
//! numbers (growth, differences, averages) come from code, not from the model.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::{ToolContext, ToolError, ToolOutput, TypedTool};
use crate::analytics::calc::{eval_expression, eval_program};

/// Arguments of `calculator`: an expression or a FinQA program.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CalculatorArgs {
    /// Arithmetic, e.g. (391035 - 383285) / 383285 * 100; functions abs, sqrt, ln, exp, min, max, avg, round.
    #[serde(default)]
    pub expression: Option<String>,
    /// A FinQA program, e.g. subtract(5829, 5735), divide(#0, 5735).
    #[serde(default)]
    pub program: Option<String>,
}

/// The `calculator` tool.
pub struct Calculator;

#[async_trait]
impl TypedTool for Calculator {
    type Args = CalculatorArgs;
    const NAME: &'static str = "calculator";
    const DESCRIPTION: &'static str = "Evaluate arithmetic (an expression) or a FinQA program (add, subtract, multiply, divide, exp, greater).";

    async fn run(&self, args: CalculatorArgs, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        match (&args.expression, &args.program) {
            (Some(e), None) => {
                let value = eval_expression(e).map_err(|err| ToolError::Invalid(err.to_string()))?;
                Ok(ToolOutput::json(json!({"expression": e, "result": value})))
            }
            (None, Some(p)) => {
                let program = eval_program(p, None).map_err(|err| ToolError::Invalid(err.to_string()))?;
                Ok(ToolOutput::json(json!({"program": p, "steps": program.steps, "result": program.result})))
            }
            (Some(_), Some(_)) => Err(ToolError::Invalid("give `expression` or `program`, not both".into())),
            (None, None) => Err(ToolError::Invalid("give `expression` or `program`".into())),
        }
    }
}
