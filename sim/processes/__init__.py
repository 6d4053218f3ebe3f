"""The model's processes, one module each, in the order `UmeaModel.step` runs them every week.

| order | module | process | owns |
|---|---|---|---|
| 1 | `cohorts` | new school year: leavers out, newcomers in, schools, living baselines, peers | — |
| 2 | `places` | visible criminal presence per district | `visibility` |
| 3 | `risk` | risk factors: drift to living baselines, peer influence, noise, crises | friends' mean |
| 4 | `social_services` | reports of concern by channel, assessment, open cases | `known`, reports |
| 5 | `interventions` | the scenario's measures act (they read `known`, write the modifiers) | the measures |
| 6 | `involvement` | entry, desistance, recruitment (demand and supply), deepening, exit | transitions |
| 7 | `criminal_network` | members' turnover, inflow, peripheral recruiters, demand expiry | `network` |
| 8 | `recording` | per-week tables | `recorder` |

State that several processes read (stage, years in stage, recruiter, the population arrays) lives on
the model; each process keeps its private state and exposes what others need. The event log
(`sim.processes.events`) records every stage change, report of concern and intervention start/end.
"""
