"""Test doubles shipped with the package: scripted models, the request guard, a fake API.

Import by module: `subagents.testing.models` (ScriptedModel, FunctionModel),
`subagents.testing.fake_server` (FakeAnthropicServer). `block_model_requests` lives in
`subagents.models.guard`.
"""
