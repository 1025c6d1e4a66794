"""tracer as an MCP server (`tracer mcp`): other agents get tracer's hands, with tracer's safety.

    desk       the desktop the server acts on: the display and monitor chosen at start, the kill
               switch armed for the server's life, one tool acting at a time
    safety     tracer's risk rules for every step, confirmed through MCP elicitation
    records    a run record for every tool call
    tools      the tools a client model calls (screenshot, plan, do, run_macro, primitives, logs)
    server     the MCPServer with its tools and resources, over stdio or streamable HTTP
"""
