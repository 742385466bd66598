// JSON lines between tests/support/iam.py and @cloud-copilot/iam-simulate (package.json pins it).
// One request per stdin line: {"id", "simulation"}; one reply per stdout line, in request order:
// {"id", "resultType", "overallResult", "ignoredContextKeys", "denials", "errors"}.
import readline from 'node:readline'
import { getDenialReasons, runSimulation } from '@cloud-copilot/iam-simulate'

async function handle(request) {
  const simulation = {
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    identityPolicies: [],
    ...request.simulation,
  }
  const result = await runSimulation(simulation, { simulationMode: 'Strict' })
  const reply = { id: request.id, resultType: result.resultType }
  if (result.resultType === 'error') {
    reply.errors = result.errors
  } else if (result.resultType === 'single') {
    reply.overallResult = result.overallResult
    reply.ignoredContextKeys = result.result.ignoredContextKeys ?? []
    reply.denials = getDenialReasons(result.result.analysis)
  } else {
    reply.errors = { message: 'a resource pattern, not one resource: name a concrete ARN' }
  }
  return reply
}

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
let chain = Promise.resolve()
lines.on('line', (line) => {
  if (!line.trim()) return
  chain = chain.then(async () => {
    const request = JSON.parse(line)
    let reply
    try {
      reply = await handle(request)
    } catch (error) {
      reply = { id: request.id, resultType: 'exception', errors: { message: String(error?.stack ?? error) } }
    }
    process.stdout.write(JSON.stringify(reply) + '\n')
  })
})
