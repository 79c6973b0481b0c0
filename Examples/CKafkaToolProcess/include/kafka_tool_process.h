#ifndef KAFKA_TOOL_PROCESS_H
#define KAFKA_TOOL_PROCESS_H

/// Process settings of the command-line tools, applied when the executable is loaded (before any thread
/// allocates). Calling this (it does nothing) makes sure the object that applies them is linked in.
void kafka_tool_process_settings_linked(void);

#endif
