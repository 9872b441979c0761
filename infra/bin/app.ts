import { App } from 'aws-cdk-lib';
import { addDeployment } from '../lib/deployment.ts';
import { environmentSettings } from '../lib/environments.ts';

// `npx cdk deploy -c env=dev --all`: one app, the environment chosen by context.
const app = new App();
addDeployment(app, environmentSettings(app.node.tryGetContext('env')));
app.synth();
